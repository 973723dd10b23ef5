sw_unit_test(store ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_store.c LIBS sw_results PkgConfig::SQLITE3 TIMEOUT 60 LABELS unit)
