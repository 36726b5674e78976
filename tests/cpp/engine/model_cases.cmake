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
# ON: a configure error otherwise (scripts/test.sh); OFF: never.
set(BNNFLOW_MODEL_CASES AUTO CACHE STRING
    "whole-model tests on the C API (needs Python with torch + bnnflow): AUTO, ON or OFF")
set_property(CACHE BNNFLOW_MODEL_CASES PROPERTY STRINGS AUTO ON OFF)

if(NOT BNNFLOW_MODEL_CASES STREQUAL "OFF")
  find_package(Python 3.10 COMPONENTS Interpreter QUIET)
  set(_bnnflow_cases_python_ok OFF)
  if(Python_Interpreter_FOUND)
    execute_process(COMMAND ${Python_EXECUTABLE} -c "import torch, bnnflow.convert"
                    RESULT_VARIABLE _bnnflow_cases_rc OUTPUT_QUIET ERROR_QUIET)
    if(_bnnflow_cases_rc EQUAL 0)
      set(_bnnflow_cases_python_ok ON)
    endif()
  endif()
  if(NOT _bnnflow_cases_python_ok)
    set(_bnnflow_cases_why "no Python 3.10+ that imports torch and bnnflow.convert (tried: "
                           "'${Python_EXECUTABLE}'; pass -DPython_EXECUTABLE=...)")
    if(BNNFLOW_MODEL_CASES STREQUAL "ON")
      message(FATAL_ERROR "-DBNNFLOW_MODEL_CASES=ON: ${_bnnflow_cases_why}")
    endif()
    message(STATUS "whole-model tests (model_case.*) left out: ${_bnnflow_cases_why}")
  else()
    message(STATUS "whole-model tests (model_case.*): cases made by ${Python_EXECUTABLE}")
    set(_bnnflow_cases_dir ${CMAKE_BINARY_DIR}/model_cases)
    set(_bnnflow_cases_models digits birealnet18 quicknet)
    add_test(NAME model_cases_generate
             COMMAND ${Python_EXECUTABLE}
                     ${CMAKE_CURRENT_LIST_DIR}/make_model_cases.py ${_bnnflow_cases_dir}
                     ${_bnnflow_cases_models})
    set_tests_properties(model_cases_generate PROPERTIES
      FIXTURES_SETUP bnnflow_model_cases TIMEOUT 600)

    add_executable(run_model_case ${CMAKE_CURRENT_LIST_DIR}/run_model_case.c)
    target_link_libraries(run_model_case PRIVATE bnnflow_static)
    set_target_properties(run_model_case PROPERTIES LINKER_LANGUAGE CXX)
    # ISA -> threads: the scalar kernels on one thread, the SIMD ones on the pool.
    if(BNNFLOW_ARM64)
      set(_bnnflow_cases_isas scalar:1 neon:2)
    elseif(BNNFLOW_X86)
      set(_bnnflow_cases_isas scalar:1 avx2:2 avx512:2)
    else()
      set(_bnnflow_cases_isas scalar:1)
    endif()
    foreach(_model IN LISTS _bnnflow_cases_models)
      foreach(_dataflow int8 float)
        set(_case ${_model}_${_dataflow})
        if(_dataflow STREQUAL "int8")
          set(_check --exact)
        else()
          set(_check --rtol 1e-5)
        endif()
        foreach(_isa_threads IN LISTS _bnnflow_cases_isas)
          string(REPLACE ":" ";" _it ${_isa_threads})
          list(GET _it 0 _isa)
          list(GET _it 1 _threads)
          add_test(NAME model_case.${_case}.${_isa}
                   COMMAND run_model_case ${_bnnflow_cases_dir}/${_case}.bnn
                           ${_bnnflow_cases_dir}/${_case}.input
                           ${_bnnflow_cases_dir}/${_case}.logits
                           --isa ${_isa} --threads ${_threads} ${_check})
          # 77: this CPU does not run the ISA (e.g. no AVX-512).
          set_tests_properties(model_case.${_case}.${_isa} PROPERTIES
            FIXTURES_REQUIRED bnnflow_model_cases SKIP_RETURN_CODE 77 TIMEOUT 600)
        endforeach()
      endforeach()
    endforeach()
  endif()
endif()
