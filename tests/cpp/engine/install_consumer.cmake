# ctest bnnflow_install_consumer: `cmake --install` the build into a scratch prefix, build
# tests/cpp/engine/consumer against it with find_package(bnnflow) (shared and static), and
# run both on the fixture digit. Variables: BUILD_DIR, SOURCE_DIR, WORK_DIR, GENERATOR and
# SANITIZE (the -fsanitize= list of a sanitizer build, which the consumer must link too).
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
set(flags)
if(SANITIZE)
  set(flags "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/cpp/engine/consumer -B ${WORK_DIR}/build
    -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${prefix} -DEXAMPLE=${SOURCE_DIR}/examples/c/classify.c
    ${flags})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
set(data ${SOURCE_DIR}/tests/cpp/engine/data)
foreach(exe classify_shared classify_static)
  run(${WORK_DIR}/build/${exe} ${data}/tiny_int8.bnn ${data}/digit.pgm --top 1)
  if(NOT last_output MATCHES "top-1: 8 \\(8\\)")
    message(FATAL_ERROR "${exe}: unexpected output: ${last_output}")
  endif()
  message(STATUS "${exe}: ${last_output}")
endforeach()
# Bad options are refused with a message and exit status 2, not ignored.
foreach(bad "--top;x" "--threads;0" "--top" "--frobnicate;1")
  execute_process(COMMAND ${WORK_DIR}/build/classify_shared ${data}/tiny_int8.bnn
                          ${data}/digit.pgm ${bad}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 2 OR NOT err MATCHES "(needs a whole number|unknown option)")
    message(FATAL_ERROR "classify_shared ${bad}: expected a refusal (2), got ${rc}: ${err}")
  endif()
endforeach()
