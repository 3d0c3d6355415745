# SPDX-License-Identifier: Apache-2.0
#
# Cortex-M cross build with Debian's gcc-arm-none-eabi and picolibc-arm-none-eabi:
#   cmake -S . -B build/cortex-m7 -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake -DMCUBERT_CPU=cortex-m7
# MCUBERT_CPU picks the core: cortex-m7 (single-precision FPU, DSP extension) or cortex-m3
# (no DSP extension: the portable C kernels). Programs link against picolibc with its
# semihosting crt0, which gets argv from the debugger or emulator and exits through it.

set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
# No semihosting crt0 at try_compile time: check the compiler on a static library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(MCUBERT_CPU cortex-m7 CACHE STRING "Cortex-M core: cortex-m7 or cortex-m3")
set_property(CACHE MCUBERT_CPU PROPERTY STRINGS cortex-m7 cortex-m3)
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES MCUBERT_CPU)

if(MCUBERT_CPU STREQUAL "cortex-m7")
  set(_mcubert_cpu_flags "-mcpu=cortex-m7 -mfpu=fpv5-sp-d16 -mfloat-abi=hard -mthumb")
elseif(MCUBERT_CPU STREQUAL "cortex-m3")
  set(_mcubert_cpu_flags "-mcpu=cortex-m3 -mthumb")
else()
  message(FATAL_ERROR "MCUBERT_CPU must be cortex-m7 or cortex-m3, not '${MCUBERT_CPU}'")
endif()

set(CMAKE_C_FLAGS_INIT "${_mcubert_cpu_flags} --specs=picolibc.specs -ffunction-sections -fdata-sections")
# A cache entry, as CMake would append its own -O3 to a *_INIT value.
set(CMAKE_C_FLAGS_RELEASE "-O2 -DNDEBUG" CACHE STRING "C flags for Release builds")
# CMake links with CMAKE_C_FLAGS too, so the core flags and the specs are not repeated here.
set(CMAKE_EXE_LINKER_FLAGS_INIT "--oslib=semihost --crt0=semihost -Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
