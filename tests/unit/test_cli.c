/* Unit tests for the CLI command table: sorted, unique, every entry has help text. */
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

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_table_sorted_with_help)};
  return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
