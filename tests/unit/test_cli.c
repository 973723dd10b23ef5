/* Unit tests for the CLI: the command table (sorted, unique, every entry has help text), the shared argument
 * helpers (--name VALUE / --name=VALUE options, help detection, strict numbers) and the commands' refusal of bad
 * values (exit 2 before any work). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* A value starting with "--" is another option, not the value (write --name=VALUE for such a value). */
static void test_opt_value_refuses_option(void **state) {
  (void)state;
  char *argv[] = {"run", "--db", "--force", "--db=--force", "--db", "-1"};
  int bad = 0, i = 1;
  assert_null(sw_cli_opt_value(6, argv, &i, "--db", &bad));
  assert_int_equal(bad, 1);
  assert_int_equal(i, 1);
  bad = 0, i = 3;
  assert_string_equal(sw_cli_opt_value(6, argv, &i, "--db", &bad), "--force");
  i = 4;
  assert_string_equal(sw_cli_opt_value(6, argv, &i, "--db", &bad), "-1"); /* a negative number is a value */
  assert_int_equal(bad, 0);
  i = 1;
  assert_null(sw_cli_next_value(6, argv, &i));
}

static void test_parse_numbers_strict(void **state) {
  (void)state;
  double d = 7;
  const char *bad_doubles[] = {"nan", "inf", "-inf", "-1", "", "1x", "1e999", " "};
  for (size_t k = 0; k < sizeof bad_doubles / sizeof *bad_doubles; k++)
    assert_int_equal(sw_cli_parse_double(bad_doubles[k], 0, 1e9, &d), -1);
  assert_true(d == 7); /* untouched */
  assert_int_equal(sw_cli_parse_double("0.5", 0, 1e9, &d), 0);
  assert_true(d == 0.5);
  int n = 3;
  const char *bad_ints[] = {"5abc", "2x", "1.5", "", "-1", "99999999999999999999", "nan"};
  for (size_t k = 0; k < sizeof bad_ints / sizeof *bad_ints; k++) assert_int_equal(sw_cli_parse_int(bad_ints[k], 0, 100, &n), -1);
  assert_int_equal(n, 3);
  assert_int_equal(sw_cli_parse_int("42", 0, 100, &n), 0);
  assert_int_equal(n, 42);
  int list[4];
  assert_int_equal(sw_cli_parse_int_list("1,2,3,4", 1, 64, list, 4), 4);
  assert_int_equal(list[3], 4);
  assert_int_equal(sw_cli_parse_int_list("1,2,3,4,999", 1, 64, list, 4), SW_CLI_LIST_TOO_LONG);
  assert_int_equal(sw_cli_parse_int_list("1,,2", 1, 64, list, 4), -1);
  assert_int_equal(sw_cli_parse_int_list("1,2,", 1, 64, list, 4), -1);
  assert_int_equal(sw_cli_parse_int_list("1.5", 1, 64, list, 4), -1);
}

/* Runs a command with its stdout captured into out (NUL-terminated). */
static int run_captured(int (*fn)(int, char **), int argc, char **argv, char *out, size_t cap) {
  fflush(stdout);
  FILE *tmp = tmpfile();
  assert_non_null(tmp);
  int saved = dup(1);
  assert_true(saved >= 0 && dup2(fileno(tmp), 1) >= 0);
  int rc = fn(argc, argv);
  fflush(stdout);
  assert_true(dup2(saved, 1) >= 0);
  close(saved);
  rewind(tmp);
  size_t n = fread(out, 1, cap - 1, tmp);
  out[n] = '\0';
  fclose(tmp);
  return rc;
}

static void test_version_refuses_arguments(void **state) {
  (void)state;
  char *argv[] = {"version", "--bogus", NULL};
  assert_int_equal(cmd_version(2, argv), SW_EXIT_USAGE);
}

/* --quick sets only what was not given, whatever the order (--shape none: the header only, no timing). */
static void test_bench_quick_keeps_explicit_reps(void **state) {
  (void)state;
  char out[4096];
  char *argv[] = {"bench", "weights", "--shape", "none", "--reps", "9", "--quick", NULL};
  assert_int_equal(run_captured(cmd_bench, 7, argv, out, sizeof out), SW_EXIT_OK);
  assert_non_null(strstr(out, "reps 9,"));
  char *argv2[] = {"bench", "weights", "--quick", "--shape", "none", NULL};
  assert_int_equal(run_captured(cmd_bench, 5, argv2, out, sizeof out), SW_EXIT_OK);
  assert_non_null(strstr(out, "reps 5,"));
}

static void test_bench_strict_values(void **state) {
  (void)state;
  char *weights[] = {"bench", "weights", "--shape", "none", "--batch", "1.5", NULL};
  assert_int_equal(cmd_bench(6, weights), SW_EXIT_USAGE);
  char *weights5[] = {"bench", "weights", "--shape", "none", "--batch", "1,2,3,4,5", NULL};
  assert_int_equal(cmd_bench(6, weights5), SW_EXIT_USAGE);
  char *moe[] = {"bench", "moe", "--shape", "smollm2", "--batch", "1", "--no-breakeven", "--reps", "5abc",
                 "--threads", "2x", NULL};
  assert_int_equal(cmd_bench(11, moe), SW_EXIT_USAGE);
  char *moe9[] = {"bench", "moe", "--batch", "1,2,3,4,5,6,7,8,9", NULL};
  assert_int_equal(cmd_bench(4, moe9), SW_EXIT_USAGE);
  char *kernels[] = {"bench", "kernels", "--shape", "mistral8b", "--quick", NULL};
  assert_int_equal(cmd_bench(5, kernels), SW_EXIT_USAGE);
  char *model_eval[] = {"bench", "model", "--eval", "64", NULL};
  assert_int_equal(cmd_bench(4, model_eval), SW_EXIT_USAGE);
  char *model_threads[] = {"bench", "model", "--threads", "1,2,3,4,999", NULL};
  assert_int_equal(cmd_bench(4, model_threads), SW_EXIT_USAGE);
  char *executor[] = {"executor", "--mem-limit-mb", "0.5", "--trial", "{\"workload\":\"test\"}", NULL};
  assert_int_equal(cmd_executor(5, executor), SW_EXIT_USAGE);
  char *executor_fd[] = {"executor", "--fd", "abc", NULL};
  assert_int_equal(cmd_executor(3, executor_fd), SW_EXIT_USAGE);
  char *watch[] = {"watch", "--timeout", "", NULL};
  assert_int_equal(cmd_watch(3, watch), SW_EXIT_USAGE);
}

/* `run FILE --db --force --dry-run`: --force is an option, not the database's name (it was, and the dry run
 * went ahead). */
static void test_run_refuses_option_as_value(void **state) {
  (void)state;
  char dir[] = "/tmp/sw_test_cli_XXXXXX", yaml[128];
  assert_non_null(mkdtemp(dir));
  snprintf(yaml, sizeof yaml, "%s/one.yaml", dir);
  FILE *f = fopen(yaml, "w");
  assert_non_null(f);
  fputs("name: one\nworkload: test\nsettings:\n  action: sleep\n  sleep_ms: 1\nmeasure:\n  warmup: 0\n"
        "  repetitions: 1\ngrid:\n  product:\n    replica: {range: [0, 1]}\n", f);
  fclose(f);
  char *argv[] = {"run", yaml, "--db", "--force", "--dry-run", NULL};
  assert_int_equal(cmd_run(5, argv), SW_EXIT_USAGE);
  char *argv2[] = {"run", yaml, "--retries", "--force", "--db", "x.db", "--dry-run", NULL};
  assert_int_equal(cmd_run(7, argv2), SW_EXIT_USAGE);
  remove(yaml);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_table_sorted_with_help),
                                      cmocka_unit_test(test_opt_value_forms),
                                      cmocka_unit_test(test_opt_value_refuses_option),
                                      cmocka_unit_test(test_parse_numbers_strict),
                                      cmocka_unit_test(test_version_refuses_arguments),
                                      cmocka_unit_test(test_bench_quick_keeps_explicit_reps),
                                      cmocka_unit_test(test_bench_strict_values),
                                      cmocka_unit_test(test_run_refuses_option_as_value)};
  return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
