sw_unit_test(common ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_common.c LIBS sw_common)
sw_unit_test(cli ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_cli.c LIBS sw_cli)
sw_fuzz_target(json ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_json.c sw_common)
