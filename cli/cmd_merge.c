/* `sparsweep merge OUT IN...`: combines results databases written by separate jobs (a job array, separate
 * allocations) into OUT, creating it if needed.  Runs keep their provenance (imported_from names the input),
 * exact duplicates are skipped, and by default each config keeps one ok result (--keep-repeats keeps ok
 * repeats from different runs).  Each input is merged in its own transaction. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/sw_cli.h"
#include "results/sw_store.h"

static void merge_usage(FILE *f) {
  fprintf(f,
          "usage: sparsweep merge [--keep-repeats] OUT IN...\n"
          "  Copies the runs and trials of every IN database into OUT (created if missing).\n"
          "  Runs are matched by uuid and copied once with their provenance; a trial already present\n"
          "  (same run, config hash, attempt) is skipped, and so is an ok trial whose config already has\n"
          "  an ok result in OUT, unless --keep-repeats is given.  Merging the same input twice adds nothing.\n"
          "  Exit status: 0 all inputs merged, 1 an input failed (others are kept), 2 usage error.\n");
}

/* Deletes an output database this invocation created but filled with nothing (every input was rejected). */
static void remove_new_output(const char *out) {
  static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s%s", out, suffixes[i]) < (int)sizeof path) unlink(path);
  }
  fprintf(stderr, "sparsweep merge: no input merged; '%s' not created\n", out);
}

static int merge_one(sw_store_t *st, const char *in, const sw_merge_opts_t *opts) {
  sw_err_t err;
  sw_merge_stats_t stats;
  sw_err_clear(&err);
  if (sw_store_merge(st, in, opts, &stats, &err) != SW_OK) {
    fprintf(stderr, "sparsweep merge: %s\n", err.msg);
    return 0;
  }
  printf("%s: %lld runs added, %lld trials added, %lld duplicate trials skipped\n", in, (long long)stats.runs_added,
         (long long)stats.trials_added, (long long)stats.trials_skipped);
  return 1;
}

int cmd_merge(int argc, char **argv) {
  sw_merge_opts_t opts = {0};
  int first = 1;
  if (sw_cli_wants_help(argc, argv)) {
    merge_usage(stdout);
    return SW_EXIT_OK;
  }
  for (; first < argc && argv[first][0] == '-' && argv[first][1]; first++) {
    if (strcmp(argv[first], "--keep-repeats") == 0) {
      opts.keep_repeats = 1;
    } else {
      fprintf(stderr, "sparsweep merge: unknown option '%s'\n", argv[first]);
      merge_usage(stderr);
      return SW_EXIT_USAGE;
    }
  }
  if (argc - first < 2) {
    merge_usage(stderr);
    return SW_EXIT_USAGE;
  }
  sw_err_t err;
  sw_err_clear(&err);
  sw_store_t *st = NULL;
  int created = access(argv[first], F_OK) != 0; /* a new OUT that receives nothing is removed again */
  if (sw_store_open(&st, argv[first], NULL, &err) != SW_OK) {
    fprintf(stderr, "sparsweep merge: %s\n", err.msg);
    return SW_EXIT_FAIL;
  }
  if (sw_store_fs_warning(st)) fprintf(stderr, "sparsweep merge: %s\n", sw_store_fs_warning(st));
  int all_ok = 1, any_ok = 0;
  for (int i = first + 1; i < argc; i++) {
    int ok = merge_one(st, argv[i], &opts);
    all_ok &= ok;
    any_ok |= ok;
  }
  if (sw_store_close(&st, &err) != SW_OK) {
    fprintf(stderr, "sparsweep merge: %s\n", err.msg);
    all_ok = 0;
  }
  if (created && !any_ok) remove_new_output(argv[first]);
  return all_ok ? SW_EXIT_OK : SW_EXIT_FAIL;
}
