# End-to-end tests of `sparsweep run` under mpirun (tests/mpi/*.sh; they count rows with the sqlite3 CLI).
# RESOURCE_LOCK mpi: they oversubscribe the machine's cores and must not run concurrently.
# A script that cannot inject its fault here (no tmpfs mount, ...) exits 77 and is reported skipped.
foreach(t sweep kill9 drain drain_prepare unwritable np1 cache blackhole onewriter hygiene frozen silent busy breaker diskfull)
  sw_script_test(mpi_${t} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/mpi/${t}.sh TIMEOUT 120 LABELS e2e mpi)
  set_tests_properties(mpi_${t} PROPERTIES RESOURCE_LOCK mpi SKIP_RETURN_CODE 77)
endforeach()
# Smoke run of the orchestration benchmark with small numbers (prints figures; fails only if a sweep fails).
sw_script_test(mpi_bench_orch_smoke COMMAND $<TARGET_FILE:sparsweep> bench orchestration --trials 60
  --long-trials 2 --long-ms 200 TIMEOUT 120 LABELS e2e mpi)
set_tests_properties(mpi_bench_orch_smoke PROPERTIES RESOURCE_LOCK mpi)
# PAPI events of several components in one experiment (README.md, "What a trial measures"): exact SDE values next to perf_event ones.
sw_script_test(mpi_papi_mixed COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/mpi/papi_mixed.sh TIMEOUT 120 LABELS e2e mpi)
set_tests_properties(mpi_papi_mixed PROPERTIES RESOURCE_LOCK mpi SKIP_RETURN_CODE 77)
# Hostile inputs to plan, model inspect, run and merge (no MPI: runs in seconds).
sw_script_test(cli_inputs COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/mpi/inputs.sh TIMEOUT 60 LABELS e2e)
