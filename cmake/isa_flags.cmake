# The ISAs come from the one list in csrc/common/isa_list.h (docs/development.md, "Adding an
# ISA"): this file reads its X(name, Enum, arch, ...) lines. Kernel files carry their ISA in
# their name (as XNNPACK's micro-kernels do): *_<name>_*.cc is built only for its arch and
# compiled with exactly BNNFLOW_<NAME>_FLAGS; the dispatcher picks at run time.
#   scalar  portable C++              avx2    AVX2 + FMA + POPCNT + BMI2
#   avx512  AVX-512 F/BW/DQ/VL + VPOPCNTDQ + BITALG + VNNI
#   neon    AArch64 NEON (built only for aarch64; the baseline flags already enable it)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i.86)$")
  set(BNNFLOW_X86 ON)
else()
  set(BNNFLOW_X86 OFF)
endif()
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(BNNFLOW_ARM64 ON)
else()
  set(BNNFLOW_ARM64 OFF)
endif()

set(BNNFLOW_SCALAR_FLAGS "")
set(BNNFLOW_AVX2_FLAGS -mavx2 -mfma -mpopcnt -mbmi -mbmi2 -mf16c)
set(BNNFLOW_AVX512_FLAGS -mavx2 -mfma -mpopcnt -mbmi -mbmi2 -mavx512f -mavx512bw -mavx512dq
    -mavx512vl -mavx512vpopcntdq -mavx512bitalg -mavx512vnni)
set(BNNFLOW_NEON_FLAGS "")

include(${CMAKE_CURRENT_LIST_DIR}/isa_list.cmake)
bnnflow_read_isa_list(BNNFLOW_ISAS BNNFLOW_ISA_ARCHES)
# Every ISA of the list has its flags here (empty for none), and no flags belong to an ISA
# that is not in the list: a new ISA fails the configure step until both agree.
foreach(isa IN LISTS BNNFLOW_ISAS)
  string(TOUPPER ${isa} ISA)
  if(NOT DEFINED BNNFLOW_${ISA}_FLAGS)
    message(FATAL_ERROR "csrc/common/isa_list.h lists ISA '${isa}' but cmake/isa_flags.cmake "
                        "sets no BNNFLOW_${ISA}_FLAGS")
  endif()
endforeach()
get_directory_property(_bnnflow_vars VARIABLES)
foreach(var IN LISTS _bnnflow_vars)
  if(var MATCHES "^BNNFLOW_([A-Z0-9]+)_FLAGS$")
    string(TOLOWER ${CMAKE_MATCH_1} isa)
    if(NOT isa IN_LIST BNNFLOW_ISAS)
      message(FATAL_ERROR "cmake/isa_flags.cmake sets ${var} but csrc/common/isa_list.h "
                          "lists no ISA '${isa}'")
    endif()
  endif()
endforeach()
# The vector ISAs (all but scalar): a file named after one of them is per-ISA code, compiled
# with its flags and held to the one-definition rule (cmake/check_isa_symbols.cmake).
bnnflow_vector_isas(BNNFLOW_VECTOR_ISAS BNNFLOW_VECTOR_ISA_REGEX)

# Whether this target builds an arch's ISAs.
function(_bnnflow_arch_built arch out)
  if(arch STREQUAL "any" OR (arch STREQUAL "x86" AND BNNFLOW_X86) OR
     (arch STREQUAL "arm64" AND BNNFLOW_ARM64))
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

# The ISA a source file belongs to (its _<name>_ token), or "" for ISA-neutral code.
function(_bnnflow_source_isa src out)
  get_filename_component(name ${src} NAME)
  set(found "")
  foreach(isa IN LISTS BNNFLOW_VECTOR_ISAS)
    if(name MATCHES "_${isa}_")
      set(found ${isa})
      break()
    endif()
  endforeach()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

# Drop the sources of ISAs this target cannot run.
function(bnnflow_filter_isa_sources var)
  set(kept)
  foreach(src IN LISTS ${var})
    _bnnflow_source_isa(${src} isa)
    if(isa)
      list(FIND BNNFLOW_ISAS ${isa} i)
      list(GET BNNFLOW_ISA_ARCHES ${i} arch)
      _bnnflow_arch_built(${arch} built)
      if(NOT built)
        continue()
      endif()
    endif()
    list(APPEND kept ${src})
  endforeach()
  set(${var} ${kept} PARENT_SCOPE)
endfunction()

function(bnnflow_set_isa_flags var)
  foreach(src IN LISTS ${var})
    _bnnflow_source_isa(${src} isa)
    if(isa)
      string(TOUPPER ${isa} ISA)
      if(BNNFLOW_${ISA}_FLAGS)
        set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${BNNFLOW_${ISA}_FLAGS}")
      endif()
    endif()
  endforeach()
endfunction()
