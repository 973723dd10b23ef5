# workers/: result writer, cache, crash-isolating executor (the test binary is its own executor executable)
# and PAPI counters.  The executor tests fork and spawn; they take a few seconds (timeouts of 0.5 s).
sw_unit_test(workers ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_workers.c LIBS sw_workers TIMEOUT 60 LABELS unit)
# The executor's RESULT payload decoder (bytes from a possibly crashed child) under libFuzzer; corpus replayed by ctest.
sw_fuzz_target(exec_result ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_exec_result.c sw_workers)
# PAPI counters of several components around one region (workers/sw_counters.c); prints the machine's case.
sw_unit_test(counters ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_counters.c LIBS sw_workers TIMEOUT 60 LABELS unit)
# workers/sw_slot: the host-wide measurement slot (exclusion checked with flock LOCK_NB from another process).
sw_unit_test(slot ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_slot.c LIBS sw_workers TIMEOUT 30 LABELS unit)
