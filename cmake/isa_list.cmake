# Reads the one ISA list, csrc/common/isa_list.h (docs/development.md, "Adding an ISA"), for
# the build (isa_flags.cmake) and for the script-mode checker check_isa_symbols.cmake.
set(_BNNFLOW_ISA_LIST_H ${CMAKE_CURRENT_LIST_DIR}/../csrc/common/isa_list.h)

# bnnflow_read_isa_list(<names-var> <arches-var>): the ISA names and their arches, in
# the order of the list. Fails when the header holds no ISA line or a line of another form.
function(bnnflow_read_isa_list names_var arches_var)
  set(header ${_BNNFLOW_ISA_LIST_H})
  file(READ "${header}" text)
  # Line continuations would escape CMake's list separators: drop them, then split lines.
  string(REPLACE "\\" "" text "${text}")
  string(REPLACE ";" "" text "${text}")
  string(REPLACE "\n" ";" all_lines "${text}")
  list(FILTER all_lines INCLUDE REGEX "^ *X\\(")
  set(lines ${all_lines})
  set(names)
  set(arches)
  foreach(line IN LISTS lines)
    if(line MATCHES "^ *X\\(([a-z0-9_]+), *(k[A-Za-z0-9]+), *(any|x86|arm64), *__VA_ARGS__\\) *$")
      list(APPEND names ${CMAKE_MATCH_1})
      list(APPEND arches ${CMAKE_MATCH_3})
    elseif(NOT line MATCHES "^ *X\\([a-z0-9_]+_simde, *[a-z0-9_]+, *__VA_ARGS__\\) *$")
      message(FATAL_ERROR "${header}: an ISA line not of the form "
                          "'X(name, kEnum, any|x86|arm64, __VA_ARGS__)' (or a SIMDe twin's "
                          "'X(name_simde, base, __VA_ARGS__)'): ${line}")
    endif()
  endforeach()
  list(LENGTH names n)
  if(n LESS 2)
    message(FATAL_ERROR "${header}: found ${n} ISA lines")
  endif()
  set(${names_var} ${names} PARENT_SCOPE)
  set(${arches_var} ${arches} PARENT_SCOPE)
endfunction()

# bnnflow_vector_isas(<list-var> <regex-var>): the ISAs but scalar, and the regex
# "(avx2|avx512|...)" of them (a file named *_<isa>_* is per-ISA code).
function(bnnflow_vector_isas list_var regex_var)
  bnnflow_read_isa_list(names arches)
  list(REMOVE_ITEM names scalar)
  string(REPLACE ";" "|" regex "${names}")
  set(${list_var} ${names} PARENT_SCOPE)
  set(${regex_var} "(${regex})" PARENT_SCOPE)
endfunction()
