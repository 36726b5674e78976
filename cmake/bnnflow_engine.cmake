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
