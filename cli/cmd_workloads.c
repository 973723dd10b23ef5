/* `sparsweep workloads [NAME] [--markdown]`: prints the declared keys of every workload (or of NAME): type,
 * default, range or allowed values, unit and help, from experiments/sw_keys_table.c.  --markdown prints the
 * tables of experiments/README.md's key reference (tests/hostile/check_keys_cli.sh compares them). */
#include <stdio.h>
#include <string.h>

#include "cli/sw_cli.h"
#include "experiments/sw_keys.h"

static void workloads_usage(FILE *to) {
  fprintf(to, "usage: sparsweep workloads [NAME] [--markdown]\n"
              "  Prints the keys each workload accepts (settings, measure and grid keys): type, default, range or\n"
              "  allowed values, unit and help.  `plan` and `run` refuse any other key.\n"
              "Exit status: 0 ok, 2 usage error or unknown workload.\n");
}

int cmd_workloads(int argc, char **argv) {
  const char *name = NULL;
  int markdown = 0;
  if (sw_cli_wants_help(argc, argv)) {
    workloads_usage(stdout);
    return SW_EXIT_OK;
  }
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--markdown")) {
      markdown = 1;
    } else if (argv[i][0] == '-' || name) {
      fprintf(stderr, "sparsweep workloads: unexpected argument '%s'\n", argv[i]);
      workloads_usage(stderr);
      return SW_EXIT_USAGE;
    } else {
      name = argv[i];
    }
  }
  sw_err_t err;
  if (sw_keys_print(stdout, name, markdown, &err) != SW_OK) {
    fprintf(stderr, "sparsweep workloads: %s\n", err.msg);
    return SW_EXIT_USAGE;
  }
  if (fflush(stdout) != 0) return SW_EXIT_FAIL;
  return SW_EXIT_OK;
}
