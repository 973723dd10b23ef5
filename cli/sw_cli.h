/* sw_cli: the `sparsweep` command table.  Each command lives in cli/cmd_<name>.c as
 * `int cmd_<name>(int argc, char **argv)`; argv[0] is the command name.  Exit codes (README):
 * 0 success, 1 a failure or a detected regression, 2 bad usage or bad input (nothing written). */
#ifndef SW_CLI_H
#define SW_CLI_H
#include <stddef.h>
#include <stdio.h>

enum {
  SW_EXIT_OK = 0,
  SW_EXIT_FAIL = 1,
  SW_EXIT_USAGE = 2
};

typedef struct sw_cmd {
  const char *name;                /* subcommand word */
  int (*fn)(int argc, char **argv);/* entry point */
  const char *help;                /* one-line description for `sparsweep --help` */
} sw_cmd_t;

/* The sorted command table and its length (exposed for the unit test that checks it). */
extern const sw_cmd_t sw_cmd_table[];
extern const int sw_cmd_count;

/* Subcommand entry points (one per cli/cmd_<name>.c, listed in sw_cmd_table): argv[0] is the command name;
 * they return the process exit status (0 ok, 1 failure, 2 usage or input error) and print their own errors. */
int cmd_bench(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_executor(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_workloads(int argc, char **argv);
int cmd_watch(int argc, char **argv);

/* Returns 1 when argv[1..] contains -h or --help. */
int sw_cli_wants_help(int argc, char **argv);
/* The value of the option at argv[*i] written "--name VALUE": argv[*i + 1], advancing *i past it; NULL when no
 * argument is left or the next one starts with "--" (another option: such a value must be written --name=VALUE). */
const char *sw_cli_next_value(int argc, char **argv, int *i);
/* Option `name` at argv[*i]: returns its value for "--name VALUE" (advancing *i past it) or "--name=VALUE",
 * NULL when argv[*i] is another option.  A "--name" with no value left, or followed by an argument starting with
 * "--" (refused as its value), sets *bad = 1 and returns NULL.  The value is borrowed from argv. */
const char *sw_cli_opt_value(int argc, char **argv, int *i, const char *name, int *bad);
/* Strict number parsing (the whole text, base 10, no leading/trailing garbage): 0 with *out set when text is a
 * finite double in [min, max] (nan and inf refused) / an integer in [min, max]; -1 otherwise (*out untouched). */
int sw_cli_parse_double(const char *text, double min, double max, double *out);
int sw_cli_parse_long(const char *text, long min, long max, long *out);
int sw_cli_parse_int(const char *text, int min, int max, int *out);
/* A comma-separated list of integers in [min, max] into out[0..cap): returns the number of entries, -1 when an
 * entry is empty or not such an integer, SW_CLI_LIST_TOO_LONG when there are more than cap entries. */
#define SW_CLI_LIST_TOO_LONG (-2)
int sw_cli_parse_int_list(const char *text, int min, int max, int *out, int cap);
/* Input path checks before a loader opens it (cli/sw_cli_input.c): an existing path that is not a regular file
 * (a FIFO would block open() for ever), or with text = 1 a file starting with a UTF-8 byte-order mark, gives -1
 * and a message naming the path in why; 0 otherwise (a missing file is left to the loader). */
int sw_cli_check_input(const char *path, int text, char *why, size_t why_len);

/* `report --layout NAME` presets (cli/sw_report_layouts.c): the rows, columns and metrics of a paper's table. */
typedef struct sw_report_layout {
  const char *name, *rows, *cols, *metrics, *help;
} sw_report_layout_t;
const sw_report_layout_t *sw_report_layout_find(const char *name); /* NULL when unknown */
void sw_report_layouts_list(FILE *f);

#endif
