# Tests of the report layer (common/sw_stats, sw_report, sw_plot and the report/compare/history/export
# commands).  test_stats is pure; test_report builds small databases with the store's schema.
sw_unit_test(stats ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_stats.c LIBS sw_common TIMEOUT 60)
# test_report calls cmd_report/cmd_compare/cmd_export/cmd_history in-process (exit codes); their sources (and the
# shared argument helpers) are compiled in directly so the test depends on sw_results only, not on every module
# behind the sparsweep CLI.
sw_unit_test(report ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_report.c LIBS sw_results PkgConfig::SQLITE3 TIMEOUT 180)
target_sources(test_report PRIVATE ${PROJECT_SOURCE_DIR}/cli/cmd_report.c ${PROJECT_SOURCE_DIR}/cli/cmd_compare.c
  ${PROJECT_SOURCE_DIR}/cli/cmd_export.c ${PROJECT_SOURCE_DIR}/cli/cmd_history.c
  ${PROJECT_SOURCE_DIR}/cli/sw_cli_args.c ${PROJECT_SOURCE_DIR}/cli/sw_report_layouts.c)
