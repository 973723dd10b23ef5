sw_unit_test(store ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_store.c LIBS sw_results PkgConfig::SQLITE3 TIMEOUT 60 LABELS unit)
sw_script_test(merge_cli COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/unit/merge_cli.sh TIMEOUT 60 LABELS e2e)
