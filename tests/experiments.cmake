# experiments/: unit tests (grid expansion, canonical hashes, hostile-file table), the expfile fuzz target
# replaying tests/fuzz/corpus/expfile/, and the `sparsweep plan` CLI contract on hostile files.
sw_unit_test(experiments ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_experiments.c LIBS sw_experiments TIMEOUT 60)
sw_fuzz_target(expfile ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_expfile.c sw_experiments)
sw_script_test(plan_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/hostile/check_plan_cli.sh TIMEOUT 60 LABELS e2e)
sw_script_test(keys_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/hostile/check_keys_cli.sh TIMEOUT 120 LABELS e2e)
sw_unit_test(keys ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_keys.c LIBS sw_workers TIMEOUT 60)
# Every paper experiment file (experiments/papers/) plans, and its report layout exists.
sw_script_test(papers_plan COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/unit/papers_plan.sh TIMEOUT 60 LABELS e2e)
