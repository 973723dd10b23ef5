# Orchestrator unit tests: message codec, back-off, events over a real zmq socket, and the rank-0
# scheduler through a scripted local backend (no MPI needed; runs under ASan/UBSan).
sw_unit_test(orchestrator ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_orchestrator.c LIBS sw_orchestrator TIMEOUT 60)
sw_unit_test(watch ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_watch.c LIBS sw_cli TIMEOUT 60)
