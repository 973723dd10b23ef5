/* Unit tests for the CLI: the command table (sorted, unique, every entry has help text) and the shared argument
 * helpers (--name VALUE / --name=VALUE options, help detection). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cli/sw_cli.h"

static void test_table_sorted_with_help(void **state) {
  (void)state;
  assert_true(sw_cmd_count > 0);
  for (int i = 0; i < sw_cmd_count; i++) {
    assert_non_null(sw_cmd_table[i].fn);
    assert_non_null(sw_cmd_table[i].help);
    assert_true(strlen(sw_cmd_table[i].help) > 10);
    if (i > 0) assert_true(strcmp(sw_cmd_table[i - 1].name, sw_cmd_table[i].name) < 0);
  }
}

static void test_opt_value_forms(void **state) {
  (void)state;
  char *argv[] = {"report", "--where=a=1", "--metric", "speedup", "--metrics", "--db"};
  int argc = 6, bad = 0, i = 1;
  assert_string_equal(sw_cli_opt_value(argc, argv, &i, "--where", &bad), "a=1"); /* only the first '=' splits */
  assert_int_equal(i, 1);
  i = 2;
  assert_string_equal(sw_cli_opt_value(argc, argv, &i, "--metric", &bad), "speedup");
  assert_int_equal(i, 3); /* advanced past the value */
  i = 4;
  assert_null(sw_cli_opt_value(argc, argv, &i, "--metric", &bad)); /* --metrics is another option */
  assert_int_equal(bad, 0);
  assert_int_equal(i, 4);
  i = 5;
  assert_null(sw_cli_opt_value(argc, argv, &i, "--db", &bad)); /* no value left */
  assert_int_equal(bad, 1);
  assert_int_equal(sw_cli_wants_help(argc, argv), 0);
  char *help[] = {"report", "x.db", "-h"};
  assert_int_equal(sw_cli_wants_help(3, help), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_table_sorted_with_help),
                                      cmocka_unit_test(test_opt_value_forms)};
  return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
