/* `sparsweep bench`: placeholder until its module lands. */
#include <stdio.h>

#include "cli/sw_cli.h"

int cmd_bench_kernels(int argc, char **argv);
int cmd_bench_kernels(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "sparsweep bench: not available in this build yet\n");
  return SW_EXIT_FAIL;
}
