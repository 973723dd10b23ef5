/* `sparsweep executor`: (internal) the per-rank trial executor process started by workers with
 * `--fd N` (a socket inherited from the rank); for debugging, `--trial JSON` runs one trial with the same
 * crash isolation and prints its outcome as one JSON line; `--bench N` prints the per-trial overhead of the
 * isolation path (spawned executor, socket, fork per trial) over N no-op trials. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/sw_cli.h"
#include "common/sw_buf.h"
#include "common/sw_time.h"
#include "workers/sw_executor.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: sparsweep executor --fd N\n"
          "       sparsweep executor --trial JSON [--timeout S] [--grace S] [--mem-limit-mb MB]\n"
          "       sparsweep executor --bench N\n"
          "  --fd N      serve trial requests on inherited socket N (started by worker ranks, not by hand)\n"
          "  --trial     run one trial config (e.g. '{\"workload\":\"test\",\"action\":\"segv\"}') in a child\n"
          "              process and print {\"status\",\"cause\",\"signal\",\"exit_status\",\"stderr_tail\",\"result\"}\n"
          "  --bench N   N no-op trials through a spawned executor: trials/s, overhead per trial, caller CPU\n"
          "  --mem-limit-mb MB  address-space headroom of the trial's child in MiB (fractions allowed, at least 1;\n"
          "              default 80%% of physical RAM)\n");
}

static void print_outcome(const sw_outcome_t *res) {
  sw_buf_t b = SW_BUF_INIT;
  sw_buf_puts(&b, "{\"status\":");
  sw_buf_json_string(&b, sw_trial_status_name(res->status), strlen(sw_trial_status_name(res->status)));
  sw_buf_puts(&b, ",\"cause\":");
  sw_buf_json_string(&b, res->cause, strlen(res->cause));
  sw_buf_printf(&b, ",\"signal\":%d,\"exit_status\":%d,\"out_of_memory\":%s,\"seconds\":", res->signo,
                res->exit_status, res->out_of_memory ? "true" : "false");
  sw_buf_json_double(&b, res->end_wall - res->start_wall);
  sw_buf_puts(&b, ",\"stderr_tail\":");
  sw_buf_json_string(&b, res->stderr_tail, strlen(res->stderr_tail));
  sw_buf_puts(&b, ",\"result\":");
  sw_buf_puts(&b, res->result_json ? res->result_json : "null");
  sw_buf_puts(&b, "}\n");
  fputs(sw_buf_str(&b), stdout);
  sw_buf_free(&b);
}

static int run_one(const char *config, double timeout_s, const sw_executor_opts_t *opts) {
  sw_trial_cache_t cache = {0};
  sw_outcome_t res;
  sw_err_t err;
  sw_rc rc = sw_trial_run_isolated(&cache, config, timeout_s, opts, &res, &err);
  sw_trial_cache_free(&cache);
  if (rc) {
    fprintf(stderr, "sparsweep executor: %s\n", err.msg);
    return SW_EXIT_FAIL;
  }
  print_outcome(&res);
  int ok = res.status == SW_TRIAL_OK;
  sw_outcome_free(&res);
  return ok ? SW_EXIT_OK : SW_EXIT_FAIL;
}

static double cpu_seconds(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec + 1e-6 * (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/* Runs n no-op trials (after 20 warm-up trials) through the worker-side API, as a worker rank would. */
static int run_bench(long n) {
  sw_executor_t *ex = NULL;
  sw_err_t err;
  sw_outcome_t res;
  if (sw_executor_start(&ex, NULL, NULL, &err) != SW_OK) {
    fprintf(stderr, "sparsweep executor: %s\n", err.msg);
    return SW_EXIT_FAIL;
  }
  double cpu0 = 0;
  int64_t t0 = 0;
  for (long i = -20; i < n; i++) {
    if (i == 0) {
      t0 = sw_now_ns();
      cpu0 = cpu_seconds();
    }
    if (sw_executor_run(ex, "{\"workload\":\"noop\"}", 10, &res, &err) != SW_OK || res.status != SW_TRIAL_OK) {
      fprintf(stderr, "sparsweep executor: no-op trial %ld failed: %s\n", i, res.status ? res.cause : err.msg);
      sw_outcome_free(&res);
      sw_executor_stop(ex);
      return SW_EXIT_FAIL;
    }
    sw_outcome_free(&res);
  }
  double wall = (double)(sw_now_ns() - t0) * 1e-9, cpu = cpu_seconds() - cpu0;
  printf("executor bench: %ld no-op trials in %.3f s: %.0f trials/s, %.1f us per trial (spawned executor, "
         "fork per trial); caller CPU %.3f s (%.1f%% of a core)\n",
         n, wall, (double)n / wall, 1e6 * wall / (double)n, cpu, 100.0 * cpu / wall);
  sw_executor_stop(ex);
  return SW_EXIT_OK;
}

/* What the command line asks for: exactly one of fd >= 0, trial, bench > 0. */
typedef struct executor_args {
  const char        *trial;
  double             timeout_s;
  long               bench;
  int                fd;
  sw_executor_opts_t opts;
} executor_args_t;

/* --mem-limit-mb MB (fractions allowed) in bytes: at least 1 MiB, and no more than fits in 64 bits. */
static int parse_mem_limit(const char *v, uint64_t *bytes) {
  double mb = 0;
  if (sw_cli_parse_double(v, 0, HUGE_VAL, &mb) != 0) return -1;
  if (mb < 1.0 || mb > (double)(UINT64_MAX >> 20)) {
    fprintf(stderr, "sparsweep executor: --mem-limit-mb %s: at least 1 MiB and at most %llu MiB\n", v,
            (unsigned long long)(UINT64_MAX >> 20));
    return -1;
  }
  *bytes = (uint64_t)(mb * 1048576.0);
  return 0;
}

/* One option at argv[*i] (advancing *i past its value); 0, or -1 when unknown, incomplete or out of range. */
static int parse_one(int argc, char **argv, int *i, executor_args_t *a) {
  const char *v;
  int bad = 0;
  if ((v = sw_cli_opt_value(argc, argv, i, "--fd", &bad))) return sw_cli_parse_int(v, 0, INT_MAX, &a->fd);
  if ((v = sw_cli_opt_value(argc, argv, i, "--bench", &bad))) return sw_cli_parse_long(v, 1, LONG_MAX, &a->bench);
  if ((v = sw_cli_opt_value(argc, argv, i, "--trial", &bad))) return a->trial = v, 0;
  if ((v = sw_cli_opt_value(argc, argv, i, "--timeout", &bad)))
    return sw_cli_parse_double(v, 0, HUGE_VAL, &a->timeout_s);
  if ((v = sw_cli_opt_value(argc, argv, i, "--grace", &bad)))
    return sw_cli_parse_double(v, 0, HUGE_VAL, &a->opts.grace_s) != 0 || !(a->opts.grace_s > 0) ? -1 : 0;
  if ((v = sw_cli_opt_value(argc, argv, i, "--mem-limit-mb", &bad))) return parse_mem_limit(v, &a->opts.mem_limit_bytes);
  return -1;
}

int cmd_executor(int argc, char **argv) {
  executor_args_t a = {.fd = -1};
  if (sw_cli_wants_help(argc, argv)) {
    usage(stdout);
    return SW_EXIT_OK;
  }
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (parse_one(argc, argv, &i, &a) != 0) {
      fprintf(stderr, "sparsweep executor: bad or incomplete option '%s'\n", opt);
      usage(stderr);
      return SW_EXIT_USAGE;
    }
  }
  if ((a.fd >= 0) + (a.trial != NULL) + (a.bench > 0) != 1) {
    usage(stderr);
    return SW_EXIT_USAGE;
  }
  if (a.trial) return run_one(a.trial, a.timeout_s, &a.opts);
  if (a.bench) return run_bench(a.bench);
  sw_err_t err;
  if (sw_executor_serve(a.fd, &err) != SW_OK) {
    fprintf(stderr, "sparsweep executor: %s\n", err.msg);
    return SW_EXIT_FAIL;
  }
  return SW_EXIT_OK;
}
