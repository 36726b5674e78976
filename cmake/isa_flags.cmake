# Kernel files carry their ISA in their name (as XNNPACK's micro-kernels do):
#   *_scalar_*.cc  portable C++            *_avx2_*.cc    AVX2 + FMA + POPCNT + BMI2
#   *_avx512_*.cc  AVX-512 F/BW/DQ/VL + VPOPCNTDQ + BITALG + VNNI
#   *_neon_*.cc    AArch64 NEON (built only for aarch64)
# Each file is compiled with exactly its ISA's flags; the dispatcher picks at run time.

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

set(BNNFLOW_AVX2_FLAGS -mavx2 -mfma -mpopcnt -mbmi -mbmi2 -mf16c)
set(BNNFLOW_AVX512_FLAGS -mavx2 -mfma -mpopcnt -mbmi -mbmi2 -mavx512f -mavx512bw -mavx512dq
    -mavx512vl -mavx512vpopcntdq -mavx512bitalg -mavx512vnni)

# Drop the sources of ISAs this target cannot run.
function(bnnflow_filter_isa_sources var)
  set(kept)
  foreach(src IN LISTS ${var})
    get_filename_component(name ${src} NAME)
    if(name MATCHES "_(avx2|avx512)_" AND NOT BNNFLOW_X86)
      continue()
    endif()
    if(name MATCHES "_neon_" AND NOT BNNFLOW_ARM64)
      continue()
    endif()
    list(APPEND kept ${src})
  endforeach()
  set(${var} ${kept} PARENT_SCOPE)
endfunction()

function(bnnflow_set_isa_flags var)
  foreach(src IN LISTS ${var})
    get_filename_component(name ${src} NAME)
    if(name MATCHES "_avx512_")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${BNNFLOW_AVX512_FLAGS}")
    elseif(name MATCHES "_avx2_")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${BNNFLOW_AVX2_FLAGS}")
    endif()
  endforeach()
endfunction()
