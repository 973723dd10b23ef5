sw_unit_test(tokenizer ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_tokenizer.c LIBS sw_models TIMEOUT 120)
