/* `sparsweep plan FILE [--json]`: loads and expands an experiment file and prints every trial (index,
 * short config hash, grid point or full config) and the count.  Runs nothing and writes no file.
 * Exit 0 ok, 2 bad usage or a bad experiment file (message "file:line:col: ..."), 1 output failure. */
#include <stdio.h>
#include <string.h>

#include "cli/sw_cli.h"
#include "common/sw_buf.h"
#include "experiments/sw_canon.h"
#include "experiments/sw_expfile.h"
#include "experiments/sw_grid.h"
#include "experiments/sw_keys.h"

static void plan_usage(FILE *to) {
  fprintf(to,
          "usage: sparsweep plan FILE [--json]\n"
          "  Expands the experiment FILE and prints its trials and their count; runs nothing.\n"
          "  --json  one JSON document with every trial's full canonical config and hash\n"
          "Exit status: 0 ok, 2 usage error or invalid file (message names file:line:column).\n");
}

static void plan_print_text(const sw_experiment_t *e, const sw_trial_list_t *trials) {
  sw_buf_t fixed = SW_BUF_INIT;
  sw_canon_config(e->fixed, e->n_fixed, &fixed, NULL);
  printf("experiment %s (workload %s)\nfile %s  spec sha256 %s\nfixed %s\n", e->name, e->workload, e->path,
         e->spec_hash, sw_buf_str(&fixed));
  sw_buf_free(&fixed);
  const sw_keydef_t *changed[8];
  size_t n = sw_keys_changed_defaults(e->workload, changed, 8);
  for (size_t i = 0; i < n && i < 8; i++) /* experiments/README.md, "Trial identity" */
    printf("changed default %s: %s where the file does not write it (was %s; written %s keeps the former hash)\n",
           changed[i]->name, changed[i]->def, changed[i]->legacy_def, changed[i]->legacy_def);
  printf("%7s  %-*s  %9s  %7s  %s\n", "index", SW_SHORT_HASH_LEN, "hash", "timeout_s", "retries", "grid point");
  for (size_t i = 0; i < trials->count; i++) {
    const sw_trial_spec_t *t = &trials->items[i];
    printf("%7zu  %.*s  %9g  %7d  %s\n", t->index, SW_SHORT_HASH_LEN, t->hash, t->timeout_s, t->retries,
           t->axes_json);
  }
  printf("%zu trials\n", trials->count);
}

static void plan_print_json(const sw_experiment_t *e, const sw_trial_list_t *trials) {
  sw_buf_t b = SW_BUF_INIT;
  sw_buf_puts(&b, "{\"v\":1,\"experiment\":");
  sw_buf_json_string(&b, e->name, strlen(e->name));
  sw_buf_puts(&b, ",\"workload\":");
  sw_buf_json_string(&b, e->workload, strlen(e->workload));
  sw_buf_puts(&b, ",\"file\":");
  sw_buf_json_string(&b, e->path, strlen(e->path));
  sw_buf_printf(&b, ",\"spec_sha256\":\"%s\",\"count\":%zu,\"trials\":[", e->spec_hash, trials->count);
  fputs(sw_buf_str(&b), stdout);
  for (size_t i = 0; i < trials->count; i++) {
    const sw_trial_spec_t *t = &trials->items[i];
    sw_buf_reset(&b);
    sw_buf_printf(&b, "%s\n{\"index\":%zu,\"hash\":\"%s\",\"timeout_s\":", i ? "," : "", t->index, t->hash);
    sw_buf_json_double(&b, t->timeout_s);
    sw_buf_printf(&b, ",\"retries\":%d,\"config\":%s}", t->retries, t->config_json);
    fputs(sw_buf_str(&b), stdout);
  }
  fputs("\n]}\n", stdout);
  sw_buf_free(&b);
}

int cmd_plan(int argc, char **argv) {
  const char *path = NULL;
  int json = 0;
  if (sw_cli_wants_help(argc, argv)) {
    plan_usage(stdout);
    return SW_EXIT_OK;
  }
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      fprintf(stderr, "sparsweep plan: unknown option '%s'\n", argv[i]);
      plan_usage(stderr);
      return SW_EXIT_USAGE;
    } else if (!path) {
      path = argv[i];
    } else {
      fprintf(stderr, "sparsweep plan: expected one FILE, got a second one: '%s'\n", argv[i]);
      return SW_EXIT_USAGE;
    }
  }
  if (!path) {
    plan_usage(stderr);
    return SW_EXIT_USAGE;
  }
  sw_err_t err;
  sw_experiment_t *e = NULL;
  sw_trial_list_t trials = {0};
  char why[1024];
  if (sw_cli_check_input(path, 1, why, sizeof why) != 0) {
    fprintf(stderr, "sparsweep plan: %s\n", why);
    return SW_EXIT_USAGE;
  }
  sw_rc rc = sw_expfile_load(path, &e, &err);
  if (rc == SW_OK) rc = sw_keys_check_experiment(e, &err);
  if (rc == SW_OK) rc = sw_grid_expand(e, &trials, &err);
  if (rc != SW_OK) {
    fprintf(stderr, "sparsweep plan: %s\n", err.msg);
    sw_experiment_free(e);
    return rc == SW_ERR_NOMEM ? SW_EXIT_FAIL : SW_EXIT_USAGE;
  }
  if (json)
    plan_print_json(e, &trials);
  else
    plan_print_text(e, &trials);
  sw_trial_list_free(&trials);
  sw_experiment_free(e);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "sparsweep plan: cannot write the output\n");
    return SW_EXIT_FAIL;
  }
  return SW_EXIT_OK;
}
