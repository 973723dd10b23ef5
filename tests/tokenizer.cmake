sw_unit_test(tokenizer ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_tokenizer.c LIBS sw_models TIMEOUT 120)
# llama-bpe (Llama 3) and SentencePiece tokenizers against Hugging Face `tokenizers` / `sentencepiece` on
# vocabularies trained at test time on the Austen text (tests/reference/gen_tokenizer_kinds_ref.py).
set(SW_TOKENIZER_KINDS_DIR ${PROJECT_BINARY_DIR}/tests/tokenizer_kinds)
file(MAKE_DIRECTORY ${SW_TOKENIZER_KINDS_DIR})
set(SW_TOKENIZER_TEXT "$ENV{SPARSWEEP_CACHE}")
if(NOT SW_TOKENIZER_TEXT)
  set(SW_TOKENIZER_TEXT ${PROJECT_SOURCE_DIR}/cache)
endif()
add_test(NAME tokenizer_kinds_fixture
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/reference/gen_tokenizer_kinds_ref.py ${SW_TOKENIZER_TEXT}/text/austen.txt ${SW_TOKENIZER_KINDS_DIR})
set_tests_properties(tokenizer_kinds_fixture PROPERTIES TIMEOUT 300 LABELS unit FIXTURES_SETUP tokenizer_kinds)
sw_unit_test(tokenizer_kinds ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_tokenizer_kinds.c LIBS sw_models TIMEOUT 120)
set_tests_properties(tokenizer_kinds PROPERTIES FIXTURES_REQUIRED tokenizer_kinds)
set_property(TEST tokenizer_kinds APPEND PROPERTY ENVIRONMENT "SW_TOKENIZER_KINDS_DIR=${SW_TOKENIZER_KINDS_DIR}")
sw_fuzz_target(tokenizer ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_tokenizer.c sw_models)
