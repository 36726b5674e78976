# Whole converted models on the C API against the numpy reference (ctest model_case.*), on
# every ISA of the target: natively, and under qemu-aarch64 in the cross build (the emulator
# of cmake/aarch64-linux-gnu.cmake runs run_model_case). Included by cmake/bnnflow_engine.cmake
# when the C API and the tests are built.
#
# The fixture test model_cases_generate runs make_model_cases.py with the build machine's
# Python (torch + bnnflow: the installed package, or the source tree on PYTHONPATH) and writes
# <build>/model_cases/<model>_<dataflow>.{bnn,input,logits}; every model_case.<case>.<isa> test
# then loads one file with that ISA forced and compares its logits with the reference:
# bit-identical in the int8 data-flow, within 1e-5 relative in the float one.
#
# -DBNNFLOW_MODEL_CASES=AUTO (default): only when that Python imports torch and bnnflow;
# ON: a configure error otherwise; OFF: never.
# -DBNNFLOW_MODEL_CASES_DIR=<dir>: the cases are already there (made once by
# `python tests/cpp/engine/make_model_cases.py <dir>`, as scripts/test.sh does for its three
# C++ builds, or copied to an ARM board): no Python needed, no model_cases_generate test, a
# model_case test for every <case>.bnn in <dir> at configure time.
set(BNNFLOW_MODEL_CASES AUTO CACHE STRING
    "whole-model tests on the C API (needs Python with torch + bnnflow): AUTO, ON or OFF")
set_property(CACHE BNNFLOW_MODEL_CASES PROPERTY STRINGS AUTO ON OFF)
set(BNNFLOW_MODEL_CASES_DIR "" CACHE PATH
    "folder of pre-made whole-model cases (empty: ctest makes them in <build>/model_cases)")

# _bnnflow_cases_python(OUT): whether find_package(Python) found a Python 3.10+ that imports
# torch and bnnflow.convert, else a FATAL_ERROR (BNNFLOW_MODEL_CASES=ON) or a status message.
function(_bnnflow_cases_python out)
  set(rc 1)
  if(Python_Interpreter_FOUND)
    execute_process(COMMAND ${Python_EXECUTABLE} -c "import torch, bnnflow.convert"
                    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  endif()
  if(rc EQUAL 0)
    set(${out} ON PARENT_SCOPE)
    return()
  endif()
  set(why "no Python 3.10+ that imports torch and bnnflow.convert (tried: "
          "'${Python_EXECUTABLE}'; pass -DPython_EXECUTABLE=... or -DBNNFLOW_MODEL_CASES_DIR=...)")
  if(BNNFLOW_MODEL_CASES STREQUAL "ON")
    message(FATAL_ERROR "-DBNNFLOW_MODEL_CASES=ON: ${why}")
  endif()
  message(STATUS "whole-model tests (model_case.*) left out: ${why}")
  set(${out} OFF PARENT_SCOPE)
endfunction()

set(_bnnflow_cases_dir "")
set(_bnnflow_cases)  # <model>_<dataflow> names
set(_bnnflow_cases_script ${CMAKE_CURRENT_LIST_DIR}/make_model_cases.py)
if(BNNFLOW_MODEL_CASES STREQUAL "OFF")
  # nothing
elseif(BNNFLOW_MODEL_CASES_DIR)
  set(_bnnflow_cases_dir ${BNNFLOW_MODEL_CASES_DIR})
  file(GLOB _bnnflow_case_files CONFIGURE_DEPENDS ${_bnnflow_cases_dir}/*.bnn)
  foreach(_f IN LISTS _bnnflow_case_files)
    get_filename_component(_name ${_f} NAME_WLE)
    list(APPEND _bnnflow_cases ${_name})
  endforeach()
  if(NOT _bnnflow_cases)
    message(FATAL_ERROR "-DBNNFLOW_MODEL_CASES_DIR=${_bnnflow_cases_dir}: no .bnn cases there "
                        "(make them with python ${_bnnflow_cases_script} <dir>)")
  endif()
  message(STATUS "whole-model tests (model_case.*): cases in ${_bnnflow_cases_dir}")
else()
  find_package(Python 3.10 COMPONENTS Interpreter QUIET)  # (its variables: this scope)
  _bnnflow_cases_python(_bnnflow_cases_python_ok)
  if(_bnnflow_cases_python_ok)
    set(_bnnflow_cases_dir ${CMAKE_BINARY_DIR}/model_cases)
    execute_process(COMMAND ${Python_EXECUTABLE} ${_bnnflow_cases_script} --list
                    OUTPUT_VARIABLE _bnnflow_cases OUTPUT_STRIP_TRAILING_WHITESPACE
                    RESULT_VARIABLE _bnnflow_cases_rc)
    if(NOT _bnnflow_cases_rc EQUAL 0 OR NOT _bnnflow_cases)
      message(FATAL_ERROR "${_bnnflow_cases_script} --list failed (${_bnnflow_cases_rc})")
    endif()
    string(REPLACE "\n" ";" _bnnflow_cases "${_bnnflow_cases}")
    message(STATUS "whole-model tests (model_case.*): cases made by ${Python_EXECUTABLE}")
    add_test(NAME model_cases_generate
             COMMAND ${Python_EXECUTABLE} ${_bnnflow_cases_script} ${_bnnflow_cases_dir})
    set_tests_properties(model_cases_generate PROPERTIES
      FIXTURES_SETUP bnnflow_model_cases TIMEOUT 600)
  endif()
endif()

if(_bnnflow_cases_dir)
  add_executable(run_model_case ${CMAKE_CURRENT_LIST_DIR}/run_model_case.c)
  target_link_libraries(run_model_case PRIVATE bnnflow_static)
  set_target_properties(run_model_case PROPERTIES LINKER_LANGUAGE CXX)
  # The comparison itself: a model's logits against another model's reference (same batch,
  # same classes) must be reported as mismatches, in both modes.
  foreach(_dataflow int8 float)
    if(NOT "birealnet18_${_dataflow}" IN_LIST _bnnflow_cases OR
       NOT "quicknet_${_dataflow}" IN_LIST _bnnflow_cases)
      continue()
    endif()
    if(_dataflow STREQUAL "int8")
      set(_check --exact)
      set(_verdict "bit-identity")
    else()
      set(_check --rtol 1e-5)
      set(_verdict "the tolerance")
    endif()
    set(_mine ${_bnnflow_cases_dir}/birealnet18_${_dataflow})
    add_test(NAME model_case_selftest.${_dataflow}_mismatch
             COMMAND run_model_case ${_mine}.bnn ${_mine}.input
                     ${_bnnflow_cases_dir}/quicknet_${_dataflow}.logits --isa scalar ${_check})
    # (A pass regular expression ignores the exit status: the count must be reported.)
    set_tests_properties(model_case_selftest.${_dataflow}_mismatch PROPERTIES
      FIXTURES_REQUIRED bnnflow_model_cases
      PASS_REGULAR_EXPRESSION "40 logits, [1-9][0-9]* outside ${_verdict}")
  endforeach()
  # ISA:threads — the scalar kernels on one thread, the SIMD ones on the pool.
  # The int8 cases also at 3 and 4 threads (model_case.<case>.<isa>.t<N>): the same logits
  # bit for bit however the pool splits the steps (odd splits, bands cut three ways).
  if(BNNFLOW_ARM64)
    set(_bnnflow_cases_isas scalar:1 neon:2)
    set(_bnnflow_cases_more_threads neon:3 neon:4)
  elseif(BNNFLOW_X86)
    set(_bnnflow_cases_isas scalar:1 avx2:2 avx512:2)
    set(_bnnflow_cases_more_threads avx2:3 avx512:3 avx512:4)
  else()
    set(_bnnflow_cases_isas scalar:1)
    set(_bnnflow_cases_more_threads)
  endif()
  foreach(_case IN LISTS _bnnflow_cases)
    # int8 data-flow: bit-identical logits; float: the Python tests' tolerance.
    if(_case MATCHES "_int8$")
      set(_check --exact)
    elseif(_case MATCHES "_float$")
      set(_check --rtol 1e-5)
    else()
      message(FATAL_ERROR "model case '${_case}': the name ends neither in _int8 nor _float")
    endif()
    set(_path ${_bnnflow_cases_dir}/${_case})
    foreach(_isa_threads IN LISTS _bnnflow_cases_isas)
      string(REPLACE ":" ";" _it ${_isa_threads})
      list(GET _it 0 _isa)
      list(GET _it 1 _threads)
      add_test(NAME model_case.${_case}.${_isa}
               COMMAND run_model_case ${_path}.bnn ${_path}.input ${_path}.logits
                       --isa ${_isa} --threads ${_threads} ${_check})
      # 77: this CPU does not run the ISA (e.g. no AVX-512).
      set_tests_properties(model_case.${_case}.${_isa} PROPERTIES
        FIXTURES_REQUIRED bnnflow_model_cases SKIP_RETURN_CODE 77 TIMEOUT 600)
      # The unfused program too (BNNFLOW_FUSE=0, docs/runtime.md "Fused steps"): the int8
      # data-flow's fused residual blocks must give the very same logits.
      if(_case MATCHES "_int8$")
        add_test(NAME model_case.${_case}.${_isa}.unfused
                 COMMAND run_model_case ${_path}.bnn ${_path}.input ${_path}.logits
                         --isa ${_isa} --threads ${_threads} ${_check})
        set_tests_properties(model_case.${_case}.${_isa}.unfused PROPERTIES
          FIXTURES_REQUIRED bnnflow_model_cases SKIP_RETURN_CODE 77 TIMEOUT 600
          ENVIRONMENT BNNFLOW_FUSE=0)
      endif()
    endforeach()
    if(_case MATCHES "_int8$")
      foreach(_isa_threads IN LISTS _bnnflow_cases_more_threads)
        string(REPLACE ":" ";" _it ${_isa_threads})
        list(GET _it 0 _isa)
        list(GET _it 1 _threads)
        add_test(NAME model_case.${_case}.${_isa}.t${_threads}
                 COMMAND run_model_case ${_path}.bnn ${_path}.input ${_path}.logits
                         --isa ${_isa} --threads ${_threads} --exact)
        set_tests_properties(model_case.${_case}.${_isa}.t${_threads} PROPERTIES
          FIXTURES_REQUIRED bnnflow_model_cases SKIP_RETURN_CODE 77 TIMEOUT 600)
      endforeach()
    endif()
  endforeach()
endif()
