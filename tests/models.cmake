# models/: GGUF reader and hostile-file table, dequantisation and dense logits against the Python reference
# (tests/reference/gen_model_ref.py, run at test time as a ctest fixture), llama forward, eval; fuzz target.
sw_unit_test(gguf ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gguf.c LIBS sw_models TIMEOUT 60)
sw_fuzz_target(gguf ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_gguf.c sw_models)
