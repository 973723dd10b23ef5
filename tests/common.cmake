sw_unit_test(common ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_common.c LIBS sw_common)
sw_unit_test(cli ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_cli.c LIBS sw_cli)
sw_fuzz_target(json ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_json.c sw_common)
# The directory ladder (README.md, "Layout"): no upward #include, SQLite named only in results/; every variable
# getenv reads is in docs/environment.md; and the checkers must catch violations planted in a scratch tree.
sw_script_test(layers COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check_layers.sh ${PROJECT_SOURCE_DIR} TIMEOUT 60 LABELS unit)
sw_script_test(env_doc COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check_env_doc.sh ${PROJECT_SOURCE_DIR} TIMEOUT 60 LABELS unit)
sw_script_test(layers_selftest COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/check_layers_selftest.sh TIMEOUT 60 LABELS unit)
