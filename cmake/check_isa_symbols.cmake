# The one-definition rule for per-ISA objects (docs/development.md, "Per-ISA objects").
#
# A file named *_<isa>_* for an ISA of csrc/common/isa_list.h other than scalar (*_avx2_*,
# *_avx512_*, *_neon_*, ...) is compiled with its ISA's flags (cmake/isa_flags.cmake). Any inline function or template instantiation it emits with external
# linkage (a weak / COMDAT symbol: std::vector<int>::vector, a shared inline helper) may also be
# emitted by a file compiled for another ISA, and the linker keeps one copy, possibly the
# AVX-512 one for code that runs on an AVX2-only CPU (an illegal instruction). So every symbol
# such an object defines with external linkage must lie in its ISA's namespace (a namespace
# component named exactly after the ISA under bnnflow, e.g. bnnflow::avx2::, bnnflow::glue::
# avx512::); everything else must be TU-local (anonymous namespace, static) or not emitted.
#
# Usage (script mode):
#   cmake -DNM=<nm> -DOBJECTS_FILE=<file, one object path per line> -P check_isa_symbols.cmake
# Options: -DMIN_ISA_OBJECTS=<n> fails when fewer ISA objects are listed (a broken object list
# must not pass silently).
# Exit status 0 when every ISA object keeps the rule; otherwise each offending object and symbol
# is printed and the script fails.

if(NOT NM OR NOT OBJECTS_FILE)
  message(FATAL_ERROR "usage: cmake -DNM=<nm> -DOBJECTS_FILE=<list> -P check_isa_symbols.cmake")
endif()
if(NOT DEFINED MIN_ISA_OBJECTS)
  set(MIN_ISA_OBJECTS 1)
endif()

# Symbols that are not C++ entities but are known to be safe in every object:
#   DW.ref.__gxx_personality_v0  a weak data word holding the address of the C++ personality
#                                routine (exception tables); data, no instructions.
#   __clang_call_terminate       Clang's landing-pad helper (calls __cxa_begin_catch and
#                                std::terminate: no vector instructions can be selected).
#   __odr_asan_gen_* / __odr_asan.*  AddressSanitizer's one-definition-rule indicators (data).
#   __asan_* / ___asan_gen_* / __ubsan_* / __sanitizer_*  sanitizer instrumentation data.
set(_allowed_regex
    "^(DW\\.ref\\.__gxx_personality_v0|__clang_call_terminate|__odr_asan_gen_.*|__odr_asan\\..*|_*asan_.*|__ubsan_.*|__sanitizer_.*)$")

# Sets ${out} to the namespace components (list) that enclose the mangled C++ name `sym`, or to
# "" when `sym` is not a scoped C++ name (C names, names in the global namespace).
function(_isa_enclosing_scopes sym out)
  set(n "${sym}")
  string(REGEX REPLACE "\\..*$" "" n "${n}")  # GCC clone suffixes: .cold, .isra.0, ...
  if(NOT n MATCHES "^_Z")
    set(${out} "" PARENT_SCOPE)
    return()
  endif()
  string(SUBSTRING "${n}" 2 -1 n)
  # Special names wrap the entity they belong to: vtable / VTT / typeinfo / typeinfo name (TV,
  # TT, TI, TS), TLS init / wrapper (TH, TW), guard variable (GV), reference temporary (GR),
  # thunks (Th<offset>_, Tv<offset>_<offset>_), local entities (Z<function>E<entity>).
  while(TRUE)
    if(n MATCHES "^(TV|TT|TI|TS|TH|TW|GV|GR)")
      string(SUBSTRING "${n}" 2 -1 n)
    elseif(n MATCHES "^Thn?[0-9]+_")
      string(REGEX REPLACE "^Thn?[0-9]+_" "" n "${n}")
    elseif(n MATCHES "^Tvn?[0-9]+_n?[0-9]+_")
      string(REGEX REPLACE "^Tvn?[0-9]+_n?[0-9]+_" "" n "${n}")
    elseif(n MATCHES "^Z")
      string(SUBSTRING "${n}" 1 -1 n)
    else()
      break()
    endif()
  endwhile()
  if(NOT n MATCHES "^N[rVK]*[RO]?")
    set(${out} "" PARENT_SCOPE)  # unscoped: the global namespace (or std abbreviations)
    return()
  endif()
  string(REGEX REPLACE "^N[rVK]*[RO]?" "" n "${n}")
  set(scopes)
  while(n MATCHES "^([0-9]+)")
    set(len ${CMAKE_MATCH_1})
    string(LENGTH "${CMAKE_MATCH_1}" digits)
    string(SUBSTRING "${n}" ${digits} ${len} id)
    list(APPEND scopes "${id}")
    math(EXPR rest "${digits} + ${len}")
    string(SUBSTRING "${n}" ${rest} -1 n)
  endwhile()
  # The last component is the entity itself unless something (template args, a ctor...) follows;
  # it is never a scope, so drop it when the name ends right after it.
  if(n MATCHES "^E")
    list(REMOVE_AT scopes -1)
  endif()
  set(${out} "${scopes}" PARENT_SCOPE)
endfunction()

file(STRINGS "${OBJECTS_FILE}" objects)
set(checked 0)
set(failures 0)
set(report "")
include(${CMAKE_CURRENT_LIST_DIR}/isa_list.cmake)
bnnflow_vector_isas(_vector_isas _vector_isa_regex)
foreach(obj IN LISTS objects)
  get_filename_component(name "${obj}" NAME)
  if(name MATCHES "_${_vector_isa_regex}_")
    set(isa ${CMAKE_MATCH_1})
  else()
    continue()
  endif()
  math(EXPR checked "${checked} + 1")
  # --no-sort keeps the two listings in the same (symbol table) order.
  execute_process(COMMAND "${NM}" --defined-only --no-sort "${obj}"
                  OUTPUT_VARIABLE raw ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${obj}: ${err}")
  endif()
  execute_process(COMMAND "${NM}" --defined-only --no-sort -C "${obj}"
                  OUTPUT_VARIABLE dem ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} -C failed on ${obj}: ${err}")
  endif()
  # Brackets and semicolons would confuse CMake's list splitting: mask them.
  foreach(v raw dem)
    string(REPLACE "[" "<lb>" ${v} "${${v}}")
    string(REPLACE "]" "<rb>" ${v} "${${v}}")
    string(REPLACE ";" "<sc>" ${v} "${${v}}")
    string(REPLACE "\n" ";" ${v} "${${v}}")
  endforeach()
  list(LENGTH raw nraw)
  list(LENGTH dem ndem)
  set(i 0)
  foreach(line IN LISTS raw)
    if(NOT line MATCHES "^[0-9a-fA-F]* *([A-Za-z]) (.+)$")
      math(EXPR i "${i} + 1")
      continue()
    endif()
    set(type ${CMAKE_MATCH_1})
    set(sym "${CMAKE_MATCH_2}")
    set(shown "${sym}")
    if(nraw EQUAL ndem)
      list(GET dem ${i} dline)
      if(dline MATCHES "^[0-9a-fA-F]* *[A-Za-z] (.+)$")
        set(shown "${CMAKE_MATCH_1}")
      endif()
    endif()
    math(EXPR i "${i} + 1")
    # Lower-case types are local (t, d, b, r, ...) except u (unique global), v / w (weak), i
    # (GNU indirect function).
    if(NOT type MATCHES "^([A-Z]|u|v|w|i)$")
      continue()
    endif()
    if(sym MATCHES "${_allowed_regex}")
      continue()
    endif()
    _isa_enclosing_scopes("${sym}" scopes)
    set(ok FALSE)
    list(LENGTH scopes nscopes)
    if(nscopes GREATER 1)
      list(GET scopes 0 top)
      list(SUBLIST scopes 1 -1 inner)
      if(top STREQUAL "bnnflow" AND isa IN_LIST inner)
        set(ok TRUE)
      endif()
    endif()
    if(NOT ok)
      math(EXPR failures "${failures} + 1")
      foreach(v shown sym)
        string(REPLACE "<lb>" "[" ${v} "${${v}}")
        string(REPLACE "<rb>" "]" ${v} "${${v}}")
        string(REPLACE "<sc>" ";" ${v} "${${v}}")
      endforeach()
      string(APPEND report "${obj}: ${type} ${shown}\n    (${sym}) is not in a "
                           "bnnflow::...::${isa} namespace\n")
    endif()
  endforeach()
endforeach()

if(checked LESS MIN_ISA_OBJECTS)
  message(FATAL_ERROR "check_isa_symbols: ${checked} ISA objects in ${OBJECTS_FILE}, expected "
                      "at least ${MIN_ISA_OBJECTS}")
endif()
if(failures GREATER 0)
  message("${report}")
  message(FATAL_ERROR
    "check_isa_symbols: ${failures} externally visible symbol(s) of ISA-compiled objects lie "
    "outside their ISA's namespace. The linker may keep such a copy (compiled with that ISA's "
    "flags) for code that runs on another CPU. Put the code in the ISA's namespace or an "
    "anonymous namespace, and do not instantiate std containers or shared inline functions in "
    "ISA files (docs/development.md, \"Per-ISA objects\").")
endif()
message(STATUS "check_isa_symbols: ${checked} ISA objects, every external symbol in its ISA's "
               "namespace")
