# Warnings and sanitizers, applied through one INTERFACE target that every sparsweep target links.
add_library(sw_warnings INTERFACE)
target_compile_options(sw_warnings INTERFACE -Wall -Wextra -Wshadow -Wstrict-prototypes
  $<$<BOOL:${SW_WERROR}>:-Werror>)
target_compile_definitions(sw_warnings INTERFACE _GNU_SOURCE)
target_include_directories(sw_warnings INTERFACE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})

if(SW_TSAN AND SW_ASAN)
  message(FATAL_ERROR "SW_TSAN and SW_ASAN are exclusive")
endif()
set(SW_SANITIZE "")
if(SW_ASAN)
  list(APPEND SW_SANITIZE address)
endif()
if(SW_UBSAN)
  list(APPEND SW_SANITIZE undefined)
endif()
if(SW_TSAN)
  list(APPEND SW_SANITIZE thread)
endif()
if(SW_SANITIZE)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "sanitizers need gcc or clang, not ${CMAKE_C_COMPILER_ID}")
  endif()
  list(JOIN SW_SANITIZE "," SW_SANITIZE_LIST)
  add_compile_options(-fsanitize=${SW_SANITIZE_LIST} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${SW_SANITIZE_LIST})
endif()
if(SW_FUZZ AND NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "SW_FUZZ needs clang (libFuzzer): configure with -DCMAKE_C_COMPILER=clang")
endif()
if(SW_FUZZ)
  # Coverage instrumentation for every library the fuzz targets link (libFuzzer needs it to explore).
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# Kernel targets get -O3.  Their AVX2 and AVX-512 variants carry per-function target attributes and are chosen at
# run time (kernels/sw_isa.h), so the default build runs on any x86-64 (or aarch64) node; SW_NATIVE=ON adds
# -march=native for experiments on one machine only.  SW_KERNEL_FLAGS is what provenance records.
add_library(sw_native INTERFACE)
set(SW_KERNEL_FLAGS -O3)
if(SW_NATIVE)
  list(APPEND SW_KERNEL_FLAGS -march=native)
endif()
target_compile_options(sw_native INTERFACE ${SW_KERNEL_FLAGS})

# sw_module(NAME DIR LIBS...): one static library per top-level directory, made of every .c file in
# it (new files are picked up at configure time).  Dependencies are the LIBS given here only, which
# enforces the module dependency direction (kernels never see SQLite, workers never see SQLite, ...).
function(sw_module name)
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
  if(NOT srcs)
    set(empty ${CMAKE_CURRENT_BINARY_DIR}/${name}_empty.c)
    file(WRITE ${empty} "/* module ${name} has no sources yet */\ntypedef int ${name}_empty_t;\n")
    set(srcs ${empty})
  endif()
  add_library(${name} STATIC ${srcs})
  target_link_libraries(${name} PUBLIC sw_warnings ${ARGN})
endfunction()
