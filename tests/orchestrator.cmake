# Orchestrator unit tests: message codec, back-off, events over a real zmq socket, and the rank-0
# scheduler through a scripted local backend (no MPI needed; runs under ASan/UBSan).
sw_unit_test(orchestrator ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_orchestrator.c LIBS sw_orchestrator PkgConfig::SQLITE3 TIMEOUT 60)
# The progress line of `sparsweep run` (synthetic events and clock), and a real run under a pseudo-terminal
# (`script`) and with stderr to a file (skipped with the reason when `script` is missing).
sw_unit_test(progress ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_progress.c LIBS sw_orchestrator TIMEOUT 30)
sw_script_test(run_progress COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/mpi/progress.sh TIMEOUT 120 LABELS e2e)
set_tests_properties(run_progress PROPERTIES SKIP_RETURN_CODE 77)
sw_unit_test(watch ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_watch.c LIBS sw_cli TIMEOUT 60)
