# Self-test of cmake/check_isa_symbols.cmake on two fixture objects (ctest isa_symbols_selftest):
# the checker accepts the good one, and on the bad one fails naming the object and each kind
# of violation. Run by ctest as
#   cmake -DCHECKER=... -DNM=... -DGOOD_LIST=... -DBAD_LIST=... -DWORK_DIR=... -P selftest.cmake

function(run_checker list min out_rc out_text)
  execute_process(COMMAND "${CMAKE_COMMAND}" -DNM=${NM} -DOBJECTS_FILE=${list}
                          -DMIN_ISA_OBJECTS=${min} -P "${CHECKER}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
  set(${out_rc} "${rc}" PARENT_SCOPE)
  set(${out_text} "${o}${e}" PARENT_SCOPE)
endfunction()

run_checker("${GOOD_LIST}" 1 rc text)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the checker rejects the good fixture:\n${text}")
endif()

run_checker("${BAD_LIST}" 1 rc text)
if(rc EQUAL 0)
  message(FATAL_ERROR "the checker accepts the bad fixture:\n${text}")
endif()
# Each violation is reported with its object file and (demangled) symbol.
foreach(expected
    "fixture_bad_avx2_k.cc.o: W bnnflow::glue::shared_helper(int)"
    "fixture_bad_avx2_k.cc.o: T bnnflow::glue::not_in_isa_namespace(int)"
    "fixture_bad_avx2_k.cc.o: T bnnflow::avx512::wrong_isa(int)"
    "fixture_bad_avx2_k.cc.o: T bnnflow_c_symbol")
  string(FIND "${text}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the checker's report lacks '${expected}':\n${text}")
  endif()
endforeach()
# std::vector<int>'s destructor (whatever the standard library's inline namespace).
if(NOT text MATCHES "fixture_bad_avx2_k\\.cc\\.o: W [^\n]*vector<int[^\n]*::~vector\\(\\)")
  message(FATAL_ERROR "the checker's report lacks std::vector<int>::~vector():\n${text}")
endif()
foreach(accepted "bad_kernel")
  string(FIND "${text}" "${accepted}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "the checker flags '${accepted}', which is in the ISA namespace:\n${text}")
  endif()
endforeach()

# An object list without ISA objects is an error, not a pass.
file(WRITE "${WORK_DIR}/isa_symbols_empty.txt" "")
run_checker("${WORK_DIR}/isa_symbols_empty.txt" 1 rc text)
if(rc EQUAL 0 OR NOT text MATCHES "0 ISA objects")
  message(FATAL_ERROR "the checker accepts an empty object list:\n${text}")
endif()
message(STATUS "isa_symbols_selftest: good fixture accepted, every violation of the bad one "
               "reported")
