# Tests of the report layer (results/sw_stats, sw_report, sw_plot and the report/compare/history/export
# commands).  test_stats is pure; test_report builds small databases with the store's schema.
sw_unit_test(stats ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_stats.c LIBS sw_results TIMEOUT 60)
# test_report links the CLI library to call cmd_compare/cmd_report/cmd_export in-process (exit codes).
sw_unit_test(report ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_report.c LIBS sw_cli sw_results PkgConfig::SQLITE3 TIMEOUT 60)
