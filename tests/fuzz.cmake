# sw_fuzz_target(NAME SOURCE LIBS...): SOURCE defines LLVMFuzzerTestOneInput.
# Always: test `fuzz_<NAME>_replay` (label fuzz-regress) replays tests/fuzz/corpus/<NAME>/ (saved crashes and
# seeds) through the entry point with a plain main().  With SW_FUZZ (clang): also the libFuzzer binary
# fuzz_<NAME> and test `fuzz_<NAME>_run` (label fuzz) that fuzzes for SW_FUZZ_SECONDS (default 30).
set(SW_FUZZ_SECONDS 30 CACHE STRING "seconds each fuzz_*_run test fuzzes")
function(sw_fuzz_target name source)
  set(corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${name})
  add_executable(fuzzreplay_${name} ${source} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/replay_main.c)
  target_link_libraries(fuzzreplay_${name} PRIVATE sw_warnings ${ARGN})
  add_test(NAME fuzz_${name}_replay COMMAND fuzzreplay_${name} ${corpus})
  set_tests_properties(fuzz_${name}_replay PROPERTIES TIMEOUT 120 LABELS fuzz-regress)
  if(SW_FUZZ)
    add_executable(fuzz_${name} ${source})
    target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_${name} PRIVATE sw_warnings ${ARGN})
    file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fuzz_work_${name})
    add_test(NAME fuzz_${name}_run COMMAND fuzz_${name} -max_total_time=${SW_FUZZ_SECONDS} -max_len=65536
      -artifact_prefix=${CMAKE_CURRENT_BINARY_DIR}/fuzz_work_${name}/ ${CMAKE_CURRENT_BINARY_DIR}/fuzz_work_${name} ${corpus})
    set_tests_properties(fuzz_${name}_run PROPERTIES TIMEOUT 300 LABELS fuzz)
  endif()
endfunction()
