/* `sparsweep version`: prints the version, the git commit (marked dirty when the tree had local changes),
 * the compiler, the C flags this binary was built with and the kernels' own flags, all taken from the
 * generated sw_build_info.h. */
#include <stdio.h>

#include "cli/sw_cli.h"
#include "kernels/sw_isa.h"
#include "sw_build_info.h"

int cmd_version(int argc, char **argv) {
  if (sw_cli_wants_help(argc, argv)) {
    printf("usage: sparsweep version\n");
    return SW_EXIT_OK;
  }
  if (argc > 1) {
    fprintf(stderr, "sparsweep version: unexpected argument '%s'\nusage: sparsweep version\n", argv[1]);
    return SW_EXIT_USAGE;
  }
  printf("sparsweep %s\ncommit %s%s\ncompiler %s\nflags %s\nkernel flags %s; %s\n", SW_VERSION, SW_GIT_COMMIT,
         SW_GIT_DIRTY ? " (dirty)" : "", SW_COMPILER, SW_C_FLAGS, SW_KERNEL_C_FLAGS, sw_isa_variant_flags());
  return SW_EXIT_OK;
}
