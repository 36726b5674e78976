# The native runtime (csrc/engine, compiled into bnnflow_core by the glob above) needs
# nlohmann-json (header-only): a CMake package (Debian's nlohmann-json3-dev, vcpkg, ...), or
# the PyPI package `nlohmann-json` (a build requirement in pyproject.toml), or the header in
# /usr/include. The C API library, its install rules and the native tools live here too.

# -DBNNFLOW_NLOHMANN_JSON_INCLUDE=<dir holding nlohmann/json.hpp> skips the package search.
if(NOT BNNFLOW_NLOHMANN_JSON_INCLUDE)
  find_package(nlohmann_json 3.9 CONFIG QUIET)
endif()
if(nlohmann_json_FOUND AND NOT BNNFLOW_NLOHMANN_JSON_INCLUDE)
  target_link_libraries(bnnflow_core PUBLIC $<BUILD_INTERFACE:nlohmann_json::nlohmann_json>)
  message(STATUS "nlohmann-json: CMake package ${nlohmann_json_DIR}")
else()
  set(_bnnflow_json_hints)
  foreach(_bnnflow_py IN ITEMS ${Python_EXECUTABLE} $ENV{VIRTUAL_ENV}/bin/python python3 python)
    execute_process(
      COMMAND "${_bnnflow_py}" -c
              "import nlohmann_json, os; print(os.path.dirname(nlohmann_json.__file__) + '/include')"
      OUTPUT_VARIABLE _bnnflow_json_py OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(_bnnflow_json_py)
      list(APPEND _bnnflow_json_hints ${_bnnflow_json_py})
      break()
    endif()
  endforeach()
  find_path(BNNFLOW_NLOHMANN_JSON_INCLUDE nlohmann/json.hpp
            HINTS ${_bnnflow_json_hints} /usr/include /usr/local/include)
  if(NOT BNNFLOW_NLOHMANN_JSON_INCLUDE AND CMAKE_CROSSCOMPILING)
    # Header-only and the same on every target: the build machine's copy will do.
    unset(BNNFLOW_NLOHMANN_JSON_INCLUDE CACHE)
    find_path(BNNFLOW_NLOHMANN_JSON_INCLUDE nlohmann/json.hpp
              HINTS ${_bnnflow_json_hints} /usr/include /usr/local/include
              NO_CMAKE_FIND_ROOT_PATH)
  endif()
  if(NOT BNNFLOW_NLOHMANN_JSON_INCLUDE)
    message(FATAL_ERROR
      "bnnflow's native runtime needs nlohmann-json (header-only). Install one of: "
      "`pip install nlohmann-json` (in the Python used for the build), "
      "`apt install nlohmann-json3-dev`, or pass -DBNNFLOW_NLOHMANN_JSON_INCLUDE=<dir with "
      "nlohmann/json.hpp>.")
  endif()
  message(STATUS "nlohmann-json: ${BNNFLOW_NLOHMANN_JSON_INCLUDE}")
  target_include_directories(bnnflow_core SYSTEM PUBLIC
                             $<BUILD_INTERFACE:${BNNFLOW_NLOHMANN_JSON_INCLUDE}>)
endif()

# ---- The C API: libbnnflow (shared) and libbnnflow.a (static), installable ----------------
# Built by default when the Python extension is not (the extension links the engine itself).
if(BNNFLOW_PYTHON)
  set(_bnnflow_c_default OFF)
else()
  set(_bnnflow_c_default ON)
endif()
option(BNNFLOW_C_API "Build the C API libraries (include/bnnflow/bnnflow.h)" ${_bnnflow_c_default})
option(BNNFLOW_TOOLS "Build bnnflow-benchmark and the C example (needs BNNFLOW_C_API)"
       ${_bnnflow_c_default})
option(BNNFLOW_INSTALL "Install the C API, the CMake package and the pkg-config file"
       ${_bnnflow_c_default})

set(BNNFLOW_VERSION 0.1.0)  # keep in step with pyproject.toml and bnnflow.h

if(BNNFLOW_C_API)
  enable_language(C)
  include(GNUInstallDirs)
  set(_bnnflow_capi ${CMAKE_CURRENT_SOURCE_DIR}/csrc/capi/c_api.cc)

  add_library(bnnflow SHARED ${_bnnflow_capi})
  target_link_libraries(bnnflow PRIVATE bnnflow_core)
  set_target_properties(bnnflow PROPERTIES CXX_VISIBILITY_PRESET hidden
                        VISIBILITY_INLINES_HIDDEN ON VERSION ${BNNFLOW_VERSION}
                        SOVERSION 0)
  if(NOT APPLE AND NOT WIN32)
    # Only the bnnflow_* C functions are exported, not the engine's C++ symbols.
    target_link_options(bnnflow PRIVATE -Wl,--exclude-libs,ALL)
  endif()
  target_compile_definitions(bnnflow PRIVATE BNNFLOW_BUILDING PUBLIC BNNFLOW_SHARED)

  # The static library holds the whole engine (one archive to link, plus -pthread).
  add_library(bnnflow_static STATIC ${_bnnflow_capi} $<TARGET_OBJECTS:bnnflow_core>)
  # (bnnflow_core's objects are inside; linking it here only passes its include paths.)
  target_link_libraries(bnnflow_static PRIVATE $<BUILD_INTERFACE:bnnflow_core>)
  target_link_libraries(bnnflow_static PUBLIC Threads::Threads)
  set_target_properties(bnnflow_static PROPERTIES OUTPUT_NAME bnnflow)

  foreach(_t bnnflow bnnflow_static)
    target_include_directories(${_t} PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  endforeach()
  add_library(bnnflow::bnnflow ALIAS bnnflow)
  add_library(bnnflow::bnnflow_static ALIAS bnnflow_static)

  if(BNNFLOW_INSTALL)
    include(CMakePackageConfigHelpers)
    install(TARGETS bnnflow bnnflow_static EXPORT bnnflowTargets
            LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
            ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
            RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
    install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/include/bnnflow/bnnflow.h
            DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/bnnflow)
    set(_bnnflow_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/bnnflow)
    install(EXPORT bnnflowTargets NAMESPACE bnnflow:: DESTINATION ${_bnnflow_cmake_dir})
    configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/bnnflowConfig.cmake.in
      ${CMAKE_CURRENT_BINARY_DIR}/bnnflowConfig.cmake INSTALL_DESTINATION ${_bnnflow_cmake_dir})
    write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/bnnflowConfigVersion.cmake
      VERSION ${BNNFLOW_VERSION} COMPATIBILITY SameMinorVersion)
    install(FILES ${CMAKE_CURRENT_BINARY_DIR}/bnnflowConfig.cmake
                  ${CMAKE_CURRENT_BINARY_DIR}/bnnflowConfigVersion.cmake
            DESTINATION ${_bnnflow_cmake_dir})
    # Relocatable: the prefix is found from the .pc file's own place.
    file(RELATIVE_PATH BNNFLOW_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
    string(REGEX REPLACE "/$" "" BNNFLOW_PC_TO_PREFIX "${BNNFLOW_PC_TO_PREFIX}")
    configure_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/bnnflow.pc.in
                   ${CMAKE_CURRENT_BINARY_DIR}/bnnflow.pc @ONLY)
    install(FILES ${CMAKE_CURRENT_BINARY_DIR}/bnnflow.pc
            DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  endif()
endif()

# ---- Native tools and the C example ---------------------------------------------------------
if(BNNFLOW_TOOLS AND BNNFLOW_C_API)
  add_executable(bnnflow-benchmark ${CMAKE_CURRENT_SOURCE_DIR}/tools/benchmark/benchmark.c)
  target_link_libraries(bnnflow-benchmark PRIVATE bnnflow_static)
  add_executable(bnnflow-classify ${CMAKE_CURRENT_SOURCE_DIR}/examples/c/classify.c)
  target_link_libraries(bnnflow-classify PRIVATE bnnflow_static)
  foreach(_t bnnflow-benchmark bnnflow-classify)
    set_target_properties(${_t} PROPERTIES LINKER_LANGUAGE CXX)
  endforeach()
  if(BNNFLOW_INSTALL)
    install(TARGETS bnnflow-benchmark bnnflow-classify RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endif()

# ---- Fuzzing the loader (tools/fuzz) ---------------------------------------------------------
option(BNNFLOW_FUZZ_LIBFUZZER "Build bnnflow-fuzz-loader for libFuzzer (clang only)" OFF)
if(BNNFLOW_TOOLS AND BNNFLOW_C_API)
  add_executable(bnnflow-fuzz-loader ${CMAKE_CURRENT_SOURCE_DIR}/tools/fuzz/fuzz_loader.cc)
  target_link_libraries(bnnflow-fuzz-loader PRIVATE bnnflow_core)
  if(BNNFLOW_FUZZ_LIBFUZZER)
    target_compile_definitions(bnnflow-fuzz-loader PRIVATE BNNFLOW_FUZZ_LIBFUZZER=1)
    target_compile_options(bnnflow-fuzz-loader PRIVATE -fsanitize=fuzzer)
    target_link_options(bnnflow-fuzz-loader PRIVATE -fsanitize=fuzzer)
  endif()
endif()

# ---- Tests of the C API and the tools (ctest) -----------------------------------------------
if(BNNFLOW_TESTS AND BNNFLOW_C_API)
  set(_bnnflow_data ${CMAKE_CURRENT_SOURCE_DIR}/tests/cpp/engine/data)
  add_executable(test_c_api ${CMAKE_CURRENT_SOURCE_DIR}/tests/cpp/engine/test_c_api.c)
  target_link_libraries(test_c_api PRIVATE bnnflow)
  target_compile_definitions(test_c_api PRIVATE BNNFLOW_TEST_DATA="${_bnnflow_data}")
  add_test(NAME test_c_api COMMAND test_c_api)
  if(BNNFLOW_TOOLS)
    add_test(NAME bnnflow_benchmark_runs
             COMMAND bnnflow-benchmark ${_bnnflow_data}/tiny_int8.bnn --threads 2 --batch 3
                     --runs 5 --profile)
    set_tests_properties(bnnflow_benchmark_runs PROPERTIES
      PASS_REGULAR_EXPRESSION "median.*peak RSS")
    add_test(NAME bnnflow_benchmark_rejects_bad_file
             COMMAND bnnflow-benchmark ${_bnnflow_data}/digit.pgm)
    set_tests_properties(bnnflow_benchmark_rejects_bad_file PROPERTIES WILL_FAIL ON)
    add_test(NAME bnnflow_classify_pgm
             COMMAND bnnflow-classify ${_bnnflow_data}/tiny_int8.bnn ${_bnnflow_data}/digit.pgm)
    file(READ ${_bnnflow_data}/digit.expected _bnnflow_expected)
    string(STRIP "${_bnnflow_expected}" _bnnflow_expected)
    set_tests_properties(bnnflow_classify_pgm PROPERTIES
      PASS_REGULAR_EXPRESSION "${_bnnflow_expected}")
    if(NOT BNNFLOW_FUZZ_LIBFUZZER)
      add_test(NAME bnnflow_fuzz_loader_short
               COMMAND bnnflow-fuzz-loader --runs 3000 ${_bnnflow_data}/tiny_int8.bnn
                       ${_bnnflow_data}/tiny_float.bnn)
      set_tests_properties(bnnflow_fuzz_loader_short PROPERTIES
        PASS_REGULAR_EXPRESSION "crashes: 0")
    endif()
  endif()
  # Whole converted models against the numpy reference, on every ISA of the target.
  include(${CMAKE_CURRENT_SOURCE_DIR}/tests/cpp/engine/model_cases.cmake)
  if(BNNFLOW_INSTALL AND NOT CMAKE_CROSSCOMPILING)
    add_test(NAME bnnflow_install_consumer
             COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${CMAKE_BINARY_DIR}
                     -DSOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}
                     -DWORK_DIR=${CMAKE_BINARY_DIR}/install-consumer
                     -DGENERATOR=${CMAKE_GENERATOR} -DSANITIZE=${BNNFLOW_SANITIZE}
                     -P ${CMAKE_CURRENT_SOURCE_DIR}/tests/cpp/engine/install_consumer.cmake)
  endif()
endif()
