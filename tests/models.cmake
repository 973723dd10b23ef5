# models/: GGUF reader and hostile-file table, dequantisation and dense logits against the Python reference
# (tests/reference/gen_model_ref.py, run at test time as a ctest fixture), llama forward, eval; fuzz target.
sw_unit_test(gguf ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gguf.c LIBS sw_models TIMEOUT 60)
sw_fuzz_target(gguf ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_gguf.c sw_models)

# Reference fixtures (dequantisation and dense logits from the `gguf` package + a float64 NumPy forward pass)
# are generated at test time from the real model into the build tree.
set(SW_MODEL_FILE "$ENV{SPARSWEEP_CACHE}")
if(NOT SW_MODEL_FILE)
  set(SW_MODEL_FILE ${PROJECT_SOURCE_DIR}/cache)
endif()
set(SW_MODEL_FILE ${SW_MODEL_FILE}/models/SmolLM2-135M-Instruct.Q4_1.gguf)
set(SW_MODEL_REF_DIR ${PROJECT_BINARY_DIR}/tests/reference_out)
file(MAKE_DIRECTORY ${SW_MODEL_REF_DIR})
add_test(NAME model_reference_fixtures
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/reference/gen_model_ref.py ${SW_MODEL_FILE} ${SW_MODEL_REF_DIR})
set_tests_properties(model_reference_fixtures PROPERTIES TIMEOUT 300 LABELS unit FIXTURES_SETUP model_ref)
sw_unit_test(model ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_model.c LIBS sw_models TIMEOUT 240)
set_tests_properties(model PROPERTIES FIXTURES_REQUIRED model_ref)
set_property(TEST model APPEND PROPERTY ENVIRONMENT "SW_MODEL_REF_DIR=${SW_MODEL_REF_DIR};SW_MODEL_PATH=${SW_MODEL_FILE};SW_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
sw_unit_test(model_trial ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_model_trial.c LIBS sw_workers TIMEOUT 600)
get_filename_component(SW_CACHE_BASE ${SW_MODEL_FILE} DIRECTORY)
get_filename_component(SW_CACHE_BASE ${SW_CACHE_BASE} DIRECTORY)
set_property(TEST model_trial APPEND PROPERTY ENVIRONMENT "SW_MODEL_PATH=${SW_MODEL_FILE};SW_TEXT_PATH=${SW_CACHE_BASE}/text/austen.txt;SPARSWEEP_CACHE=${PROJECT_BINARY_DIR}/tests/model_trial_cache")
# The MoE methods on the model (MoEfication, D2DMoE, LTE variants; about 25 s of CPU).
sw_unit_test(model_moe ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_model_moe.c LIBS sw_workers TIMEOUT 300)
set_property(TEST model_moe APPEND PROPERTY ENVIRONMENT "SW_MODEL_PATH=${SW_MODEL_FILE};SW_TEXT_PATH=${SW_CACHE_BASE}/text/austen.txt;SPARSWEEP_CACHE=${PROJECT_BINARY_DIR}/tests/model_moe_cache")

# Backward pass (models/sw_llama_grad) against automatic differentiation (`autograd`) of a NumPy forward:
# tests/reference/gen_grad_ref.py writes a random 2-layer GQA model and its reference, and the SmolLM2 reference.
set(SW_GRAD_REF_DIR ${PROJECT_BINARY_DIR}/tests/grad_ref)
file(MAKE_DIRECTORY ${SW_GRAD_REF_DIR})
add_test(NAME grad_reference_fixtures
  COMMAND sh -c "python3 '${CMAKE_CURRENT_SOURCE_DIR}/reference/gen_grad_ref.py' random '${SW_GRAD_REF_DIR}' && { test ! -f '${SW_MODEL_FILE}' || python3 '${CMAKE_CURRENT_SOURCE_DIR}/reference/gen_grad_ref.py' model '${SW_MODEL_FILE}' '${SW_GRAD_REF_DIR}'; }")
set_tests_properties(grad_reference_fixtures PROPERTIES TIMEOUT 300 LABELS unit FIXTURES_SETUP grad_ref)
sw_unit_test(llama_grad ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_llama_grad.c LIBS sw_models TIMEOUT 180)
set_tests_properties(llama_grad PROPERTIES FIXTURES_REQUIRED grad_ref)
set_property(TEST llama_grad APPEND PROPERTY ENVIRONMENT "SW_GRAD_REF_DIR=${SW_GRAD_REF_DIR};SW_MODEL_PATH=${SW_MODEL_FILE}")
sw_unit_test(attrib ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_attrib.c LIBS sw_models TIMEOUT 60)
set_tests_properties(attrib PROPERTIES FIXTURES_REQUIRED grad_ref)
set_property(TEST attrib APPEND PROPERTY ENVIRONMENT "SW_GRAD_REF_DIR=${SW_GRAD_REF_DIR}")
# The attribution mask's FFN (sparse kernels, rows read in place) against a float64 FFN in the test, on SmolLM2.
sw_unit_test(attrib_ffn ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_attrib_ffn.c LIBS sw_models TIMEOUT 300)
set_property(TEST attrib_ffn APPEND PROPERTY ENVIRONMENT "SW_MODEL_PATH=${SW_MODEL_FILE}")
sw_unit_test(modularity ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_modularity.c LIBS sw_workers TIMEOUT 300)
set_property(TEST modularity APPEND PROPERTY ENVIRONMENT "SW_MODEL_PATH=${SW_MODEL_FILE};SW_TEXT_PATH=${SW_CACHE_BASE}/text/austen.txt;SPARSWEEP_CACHE=${PROJECT_BINARY_DIR}/tests/model_trial_cache")
sw_unit_test(attrib_trial ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_attrib_trial.c LIBS sw_workers TIMEOUT 300)
set_property(TEST attrib_trial APPEND PROPERTY ENVIRONMENT "SW_MODEL_PATH=${SW_MODEL_FILE};SW_TEXT_PATH=${SW_CACHE_BASE}/text/austen.txt;SPARSWEEP_CACHE=${PROJECT_BINARY_DIR}/tests/model_trial_cache")
# Quantised-weight kernels (kernels/sw_quant): float64 block-math references in the test, and products on random
# and real model tensors against the `gguf` package (tests/reference/gen_quant_ref.py, run as a ctest fixture).
add_test(NAME quant_reference_fixture
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/reference/gen_quant_ref.py ${SW_MODEL_FILE} ${SW_MODEL_REF_DIR})
set_tests_properties(quant_reference_fixture PROPERTIES TIMEOUT 120 LABELS unit FIXTURES_SETUP quant_ref)
sw_unit_test(quant ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_quant.c LIBS sw_kernels TIMEOUT 60)
set_tests_properties(quant PROPERTIES FIXTURES_REQUIRED quant_ref)
set_property(TEST quant APPEND PROPERTY ENVIRONMENT "SW_QUANT_REF_DIR=${SW_MODEL_REF_DIR}")
# `sparsweep bench model` argument handling only (the benchmark itself is never a timed test).
sw_script_test(bench_model_usage COMMAND sh -c "(\"$SPARSWEEP\" bench model --bogus 2>/dev/null && exit 1 || test $? -eq 2) && (\"$SPARSWEEP\" bench model --threads 0 2>/dev/null && exit 1 || test $? -eq 2) && (\"$SPARSWEEP\" bench model --rows native,bogus 2>/dev/null && exit 1 || test $? -eq 2) && \"$SPARSWEEP\" bench model --help | grep -q llama-bench" TIMEOUT 30 LABELS e2e)
# A llama-bench run that fails at one thread count leaves "-" in that table, not stale figures.
sw_script_test(bench_model_llamacpp COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bench_model_llamacpp.sh $<TARGET_FILE:sparsweep>
  ${SW_MODEL_FILE} ${SW_CACHE_BASE}/text/austen.txt TIMEOUT 120 LABELS e2e)
set_tests_properties(bench_model_llamacpp PROPERTIES SKIP_RETURN_CODE 77)
# Q5_0/Q5_1 and K-quant dequantisers and a mixed-type (Q4_K_M-style) model against files written by the `gguf`
# package (tests/reference/gen_kquant_ref.py, run as a ctest fixture; needs no model file).
set(SW_KQUANT_REF_DIR ${PROJECT_BINARY_DIR}/tests/kquant_ref)
file(MAKE_DIRECTORY ${SW_KQUANT_REF_DIR})
add_test(NAME kquant_reference_fixture
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/reference/gen_kquant_ref.py ${SW_KQUANT_REF_DIR})
set_tests_properties(kquant_reference_fixture PROPERTIES TIMEOUT 300 LABELS unit FIXTURES_SETUP kquant_ref)
sw_unit_test(kquant ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_kquant.c LIBS sw_models TIMEOUT 60)
set_tests_properties(kquant PROPERTIES FIXTURES_REQUIRED kquant_ref)
set_property(TEST kquant APPEND PROPERTY ENVIRONMENT "SW_KQUANT_REF_DIR=${SW_KQUANT_REF_DIR}")
# RoPE scaling from the metadata (Llama 3.1 keys, rope_freqs.weight + linear) against NumPy (same fixture).
sw_unit_test(rope_scaling ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_rope_scaling.c LIBS sw_models TIMEOUT 60)
set_tests_properties(rope_scaling PROPERTIES FIXTURES_REQUIRED kquant_ref)
set_property(TEST rope_scaling APPEND PROPERTY ENVIRONMENT "SW_KQUANT_REF_DIR=${SW_KQUANT_REF_DIR}")
# Hugging Face checkpoints (models/sw_safetensors, sw_hf, sw_tokenizer_hf): corrupt-file table, tiny hand-made
# checkpoints, and the SmolLM2 GGUF converted to HF directories by tests/reference/gguf_to_hf.py (`safetensors`,
# `numpy`, `gguf`; exit 77 = SKIP when `safetensors` is missing), whose logits and ids must equal the GGUF's.
sw_fuzz_target(safetensors ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_safetensors.c sw_models)
set(SW_HF_REF_DIR ${PROJECT_BINARY_DIR}/tests/hf_ref)
file(MAKE_DIRECTORY ${SW_HF_REF_DIR})
add_test(NAME hf_reference_fixture COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/reference/gguf_to_hf.py
  ${SW_MODEL_FILE} ${SW_HF_REF_DIR} ${SW_CACHE_BASE}/text/austen.txt)
set_tests_properties(hf_reference_fixture PROPERTIES TIMEOUT 600 LABELS unit FIXTURES_SETUP hf_ref SKIP_RETURN_CODE 77)
sw_unit_test(hf ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_hf.c LIBS sw_workers TIMEOUT 400)
set_tests_properties(hf PROPERTIES FIXTURES_REQUIRED hf_ref)
set_property(TEST hf APPEND PROPERTY ENVIRONMENT "SW_HF_REF_DIR=${SW_HF_REF_DIR};SW_MODEL_PATH=${SW_MODEL_FILE};SW_TEXT_PATH=${SW_CACHE_BASE}/text/austen.txt;SPARSWEEP_CACHE=${PROJECT_BINARY_DIR}/tests/model_trial_cache")
# Multiple-choice tasks (models/sw_mctask.h): parser table, cloze definition, statistics by hand, and choice scores on
# SmolLM2 against tests/reference/gen_mctask_ref.py (float64 NumPy forward, Hugging Face token ids) as a fixture.
add_test(NAME mctask_reference_fixture
  COMMAND sh -c "test ! -f '${SW_MODEL_FILE}' || python3 '${CMAKE_CURRENT_SOURCE_DIR}/reference/gen_mctask_ref.py' '${SW_MODEL_FILE}' '${CMAKE_CURRENT_SOURCE_DIR}/reference/mctask_small.jsonl' '${SW_MODEL_REF_DIR}/mctask_ref.json'")
set_tests_properties(mctask_reference_fixture PROPERTIES TIMEOUT 900 LABELS unit FIXTURES_SETUP mctask_ref)
sw_unit_test(mctask ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_mctask.c LIBS sw_models TIMEOUT 120)
set_tests_properties(mctask PROPERTIES FIXTURES_REQUIRED mctask_ref)
set_property(TEST mctask APPEND PROPERTY ENVIRONMENT "SW_MODEL_PATH=${SW_MODEL_FILE};SW_MCTASK_REF=${SW_MODEL_REF_DIR}/mctask_ref.json;SW_MCTASK_FILE=${CMAKE_CURRENT_SOURCE_DIR}/reference/mctask_small.jsonl")
sw_fuzz_target(mctask ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_mctask.c sw_models)
# TEAL uniform / greedy allocation in the model's calibration (models/sw_teal_alloc.h), recounted in float64.
sw_unit_test(teal_alloc ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_teal_alloc.c LIBS sw_models TIMEOUT 300)
set_property(TEST teal_alloc APPEND PROPERTY ENVIRONMENT "SW_MODEL_PATH=${SW_MODEL_FILE}")
# The model workload's task evaluation in-process (workers/sw_trial_task.h): identity, paired metrics, errors.
sw_unit_test(task_trial ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_task_trial.c LIBS sw_workers TIMEOUT 300)
set_property(TEST task_trial APPEND PROPERTY ENVIRONMENT "SW_MODEL_PATH=${SW_MODEL_FILE};SW_TEXT_PATH=${SW_CACHE_BASE}/text/austen.txt;SW_MCTASK_FILE=${CMAKE_CURRENT_SOURCE_DIR}/reference/mctask_small.jsonl;SPARSWEEP_CACHE=${PROJECT_BINARY_DIR}/tests/model_trial_cache")

# Whole-model workload tests that run many SmolLM2 forward passes: the plain build runs them; the sanitizer build
# (scripts/test.sh --sanitize, CI) skips them (-LE heavy), as they take 8-10 minutes each there and exercise no
# parser beyond what the unit, fuzz and fuzz-regress tests already run under ASan/UBSan.
set_property(TEST model_trial model_moe hf task_trial teal_alloc APPEND PROPERTY LABELS heavy)
# BOS token (models/sw_tokenizer.h sw_tokenizer_bos): GGUF and Hugging Face settings, and multiple-choice scores with a
# BOS against a full-pass float64 reference on the tiny random Llama of the k-quant fixture.
sw_unit_test(bos ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_bos.c LIBS sw_models TIMEOUT 60)
set_tests_properties(bos PROPERTIES FIXTURES_REQUIRED kquant_ref)
set_property(TEST bos APPEND PROPERTY ENVIRONMENT "SW_KQUANT_REF_DIR=${SW_KQUANT_REF_DIR}")
