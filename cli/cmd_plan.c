/* `sparsweep plan`: placeholder until its module lands (see cli/sw_cmd_table.c for the intent). */
#include <stdio.h>

#include "cli/sw_cli.h"

int cmd_plan(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "sparsweep plan: not available in this build yet\n");
  return SW_EXIT_FAIL;
}
