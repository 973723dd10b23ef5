/* `sparsweep bench <what>`: benchmarks that print ratios measured in the same run (never pass/fail timings).
 *   bench kernels        dense vs sparse FFN kernels (cli/cmd_bench_kernels.c)
 *   bench moe            MoE-converted FFN vs dense sgemm per batch size, break-even sparsity (cli/cmd_bench_moe.c)
 *   bench weights        weight-sparse SpMV/spMspV/SpMM/SDDMM vs OpenBLAS dense (cli/cmd_bench_weights.c)
 *   bench model          whole-model decode/prefill: dense f32/native, sparse on native, llama.cpp (cli/cmd_bench_model.c)
 *   bench orchestration  no-op trials through the full MPI/executor/SQLite/event path (cli/cmd_bench_orch.c) */
#include <stdio.h>
#include <string.h>

#include "cli/sw_cli.h"

int cmd_bench_kernels(int argc, char **argv);
int cmd_bench_orchestration(int argc, char **argv);
int cmd_bench_moe(int argc, char **argv);
int cmd_bench_weights(int argc, char **argv);
int cmd_bench_model(int argc, char **argv);

int cmd_bench(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
    fprintf(argc < 2 ? stderr : stdout,
            "usage: sparsweep bench kernels [options]\n       sparsweep bench moe [options]\n"
            "       sparsweep bench weights [options]\n       sparsweep bench model [options]\n"
            "       sparsweep bench orchestration [options]\n");
    return argc < 2 ? SW_EXIT_USAGE : SW_EXIT_OK;
  }
  if (strcmp(argv[1], "kernels") == 0) return cmd_bench_kernels(argc - 1, argv + 1);
  if (strcmp(argv[1], "orchestration") == 0) return cmd_bench_orchestration(argc - 1, argv + 1);
  if (strcmp(argv[1], "moe") == 0) return cmd_bench_moe(argc - 1, argv + 1);
  if (strcmp(argv[1], "weights") == 0) return cmd_bench_weights(argc - 1, argv + 1);
  if (strcmp(argv[1], "model") == 0) return cmd_bench_model(argc - 1, argv + 1);
  fprintf(stderr, "sparsweep bench: unknown benchmark '%s' (kernels, model, moe, weights, orchestration)\n", argv[1]);
  return SW_EXIT_USAGE;
}
