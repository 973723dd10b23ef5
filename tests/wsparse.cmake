# Weight-sparse formats and kernels (kernels/sw_wsparse*): cmocka tests against float64 naive references on
# every SIMD variant the CPU supports (the others are reported skipped).
sw_unit_test(wsparse ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_wsparse.c LIBS sw_kernels TIMEOUT 60)
# ... plus the AVX-512 bitmap body built on plain-C intrinsics, so that its indexing is tested on every CPU.
target_sources(test_wsparse PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/shim/sw_wsparse_avx512_shim.c)
# Pruners (models/sw_prune): hand-computed masks, the OBS update against a float64 inverse, reconstruction error.
sw_unit_test(prune ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_prune.c LIBS sw_models TIMEOUT 60)
# Weight-sparse FFN hook (models/sw_wffn) against a float64 SwiGLU on a synthetic pruned model.
sw_unit_test(wffn ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_wffn.c LIBS sw_models TIMEOUT 60)
# `sparsweep bench weights` argument handling only (the benchmark itself is never a timed test).
sw_script_test(bench_weights_usage COMMAND sh -c "\"$SPARSWEEP\" bench weights --ws 1.5 2>/dev/null && exit 1 || test $? -eq 2 && \"$SPARSWEEP\" bench weights --bogus 2>/dev/null && exit 1 || test $? -eq 2 && \"$SPARSWEEP\" bench weights --prefetch -1 2>/dev/null && exit 1 || test $? -eq 2 && \"$SPARSWEEP\" bench weights --prefetch 2000000 2>/dev/null && exit 1 || test $? -eq 2 && \"$SPARSWEEP\" bench weights --help | grep -q prefetch" TIMEOUT 30 LABELS e2e)
# The model workload's pruning keys (workers/sw_trial_prune).
sw_unit_test(trial_prune ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_trial_prune.c LIBS sw_workers TIMEOUT 60)
