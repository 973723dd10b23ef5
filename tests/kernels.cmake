# Reference kernels (kernels/sw_act, sw_ffn*, sw_policy, sw_gemv_sparse, sw_flops, sw_sde): cmocka tests against
# float64 naive references.
sw_unit_test(kernels ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_kernels.c LIBS sw_kernels TIMEOUT 60)
sw_unit_test(kernels_policy ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_kernels_policy.c LIBS sw_kernels TIMEOUT 60)
sw_unit_test(kernels_sde ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_kernels_sde.c LIBS sw_kernels PkgConfig::PAPI TIMEOUT 60)
sw_unit_test(kernels_trial ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_kernels_trial.c LIBS sw_workers TIMEOUT 60)
# `sparsweep bench kernels` argument handling only (the benchmark itself is never a timed test).
sw_script_test(bench_kernels_usage COMMAND sh -c "\"$SPARSWEEP\" bench kernels --bogus 2>/dev/null && exit 1 || test $? -eq 2 && \"$SPARSWEEP\" bench kernels --help | grep -q quick" TIMEOUT 30 LABELS e2e)
# TEAL greedy block-wise allocation (kernels/sw_teal_greedy.h) on hand-worked cases.
sw_unit_test(teal_greedy ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_teal_greedy.c LIBS sw_kernels TIMEOUT 30)
