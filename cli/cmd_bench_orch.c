/* `sparsweep bench orchestration`: no-op trials through the full path (mpirun, MPI dispatch, executor
 * child per trial, SQLite write, event publish) with 2 workers, then a few long trials.  Prints trials/s,
 * per-trial overhead and rank 0's CPU seconds per wall second in both regimes (getrusage on rank 0,
 * reported by `sparsweep run --summary-json`).  A benchmark that prints figures, not a pass/fail test. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/sw_cli.h"
#include "common/sw_buf.h"
#include "common/sw_json.h"
#include "results/sw_report.h"

extern char **environ;

int cmd_bench_orchestration(int argc, char **argv);

static const char s_usage[] =
    "usage: sparsweep bench orchestration [--trials N] [--long-trials N] [--long-ms MS] [--np N]\n"
    "  --trials N       no-op trials (default 1000)\n"
    "  --long-trials N  long trials for the idle-orchestrator figure (default 8; 0 skips)\n"
    "  --long-ms MS     duration of each long trial (default 1000)\n"
    "  --np N           MPI ranks (default 3: rank 0 + 2 workers)\n"
    "Needs mpirun in PATH; as root it passes --allow-run-as-root; always --oversubscribe.\n";

typedef struct s_bench_opts {
  int trials, long_trials, long_ms, np;
} s_bench_opts_t;

typedef struct s_sweep_result {
  double wall_s, cpu_s;     /* rank 0 dispatch-loop wall and CPU seconds */
  long long ok, total;      /* trials ok / in the grid */
  double child_mean_s;      /* mean executor-measured trial time (child start to end) */
} s_sweep_result_t;

static int s_write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(text, f);
  return fclose(f);
}

static int s_write_experiments(const char *dir, const s_bench_opts_t *o) {
  char path[512], text[1024];
  snprintf(path, sizeof path, "%s/noop.yaml", dir);
  snprintf(text, sizeof text,
           "name: bench_noop\nworkload: noop\nmeasure:\n  warmup: 0\n  repetitions: 1\ntimeout: 30\n"
           "grid:\n  product:\n    replica: {range: [0, %d]}\n", o->trials);
  if (s_write_file(path, text) != 0) return -1;
  snprintf(path, sizeof path, "%s/long.yaml", dir);
  snprintf(text, sizeof text,
           "name: bench_long\nworkload: test\nsettings:\n  action: sleep\n  sleep_ms: %d\nmeasure:\n  warmup: 0\n"
           "  repetitions: 1\ntimeout: %d\ngrid:\n  product:\n    replica: {range: [0, %d]}\n",
           o->long_ms, o->long_ms / 1000 + 30, o->long_trials);
  return s_write_file(path, text);
}

/* Runs `mpirun -np N <self> run EXP --db DB --summary-json SUM --events tcp://127.0.0.1:*` with its output
 * in log; 0 on exit status 0. */
static int s_spawn_sweep(const s_bench_opts_t *o, const char *exp, const char *db, const char *sum, const char *log) {
  char self[4096], np[16];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return -1;
  self[n] = '\0';
  snprintf(np, sizeof np, "%d", o->np);
  char *args[24];
  int k = 0;
  args[k++] = "mpirun";
  if (geteuid() == 0) args[k++] = "--allow-run-as-root";
  args[k++] = "--oversubscribe";
  args[k++] = "-np";
  args[k++] = np;
  args[k++] = self;
  args[k++] = "run";
  args[k++] = (char *)exp;
  args[k++] = "--db";
  args[k++] = (char *)db;
  args[k++] = "--summary-json";
  args[k++] = (char *)sum;
  args[k++] = "--events";
  args[k++] = "tcp://127.0.0.1:*";
  args[k] = NULL;
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  int rc = posix_spawnp(&pid, "mpirun", &fa, NULL, args, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    fprintf(stderr, "sparsweep bench orchestration: cannot start mpirun: %s\n", strerror(rc));
    return -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static double s_json_num(const sw_json_t *doc, const char *key) {
  const sw_json_t *v = sw_json_get(doc, key);
  return v && v->kind == SW_JSON_NUMBER ? v->number : -1.0;
}

static int s_read_summary(const char *path, s_sweep_result_t *r) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char text[2048];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  sw_json_t *doc = NULL;
  sw_err_t err;
  if (sw_json_parse(text, n, &doc, &err) != SW_OK) return -1;
  r->wall_s = s_json_num(doc, "wall_s");
  r->cpu_s = s_json_num(doc, "rank0_cpu_s");
  r->ok = (long long)s_json_num(doc, "ok");
  r->total = (long long)s_json_num(doc, "total");
  sw_json_free(doc);
  return 0;
}

/* Mean trial wall time of the database (ended_s - started_s); -1 when it cannot be read. */
static double s_child_mean(const char *db) {
  sw_rdb_t *h = NULL;
  sw_err_t  err;
  double    mean = -1.0;
  if (sw_report_open(db, &h, &err) != SW_OK || sw_report_mean_trial_seconds(h, &mean, &err) != SW_OK || isnan(mean))
    mean = -1.0; /* unreadable, or no trials */
  sw_report_close(h);
  return mean;
}

static void s_remove_db(const char *db) {
  char p[600];
  unlink(db);
  snprintf(p, sizeof p, "%s-wal", db);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", db);
  unlink(p);
}

/* One sweep of dir/<name>.yaml into a fresh database; 0 on success. */
static int s_sweep(const s_bench_opts_t *o, const char *dir, const char *name, s_sweep_result_t *r) {
  char exp[512], db[512], sum[512], log[512];
  snprintf(log, sizeof log, "%s/%s.log", dir, name);
  snprintf(exp, sizeof exp, "%s/%s.yaml", dir, name);
  snprintf(db, sizeof db, "%s/%s.db", dir, name);
  snprintf(sum, sizeof sum, "%s/%s.json", dir, name);
  memset(r, 0, sizeof *r);
  int rc = s_spawn_sweep(o, exp, db, sum, log);
  if (rc == 0) rc = s_read_summary(sum, r);
  if (rc == 0) r->child_mean_s = s_child_mean(db);
  s_remove_db(db);
  unlink(sum);
  unlink(exp);
  if (rc != 0) {
    fprintf(stderr, "sparsweep bench orchestration: the %s sweep failed; its output:\n", name);
    FILE *f = fopen(log, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) fputs(line, stderr);
    if (f) fclose(f);
  }
  unlink(log);
  return rc;
}

static int s_parse(int argc, char **argv, s_bench_opts_t *o) {
  *o = (s_bench_opts_t){1000, 8, 1000, 3};
  for (int i = 1; i < argc; i++) {
    int *dst = strcmp(argv[i], "--trials") == 0        ? &o->trials
               : strcmp(argv[i], "--long-trials") == 0 ? &o->long_trials
               : strcmp(argv[i], "--long-ms") == 0     ? &o->long_ms
               : strcmp(argv[i], "--np") == 0          ? &o->np
                                                       : NULL;
    const char *opt = argv[i], *v = dst ? sw_cli_next_value(argc, argv, &i) : NULL;
    if (!v || sw_cli_parse_int(v, 0, 10000000, dst) != 0) {
      fprintf(stderr, "sparsweep bench orchestration: bad or incomplete option '%s'\n%s", opt, s_usage);
      return -1;
    }
  }
  if (o->np < 2 || o->trials < 1) {
    fprintf(stderr, "sparsweep bench orchestration: need --np >= 2 and --trials >= 1\n");
    return -1;
  }
  return 0;
}

static void s_print(const s_bench_opts_t *o, const s_sweep_result_t *noop, const s_sweep_result_t *lng) {
  int workers = o->np - 1;
  printf("sparsweep bench orchestration: %d workers (mpirun -np %d), crash isolation on (one forked child per "
         "trial), SQLite commits, events published\n", workers, o->np);
  printf("  %-28s %10s %12s %14s %14s %12s\n", "sweep", "trials", "wall s", "trials/s", "overhead/trial",
         "rank0 CPU/s");
  double rate = noop->wall_s > 0 ? (double)noop->ok / noop->wall_s : 0;
  double per_trial = noop->ok > 0 ? noop->wall_s * workers / (double)noop->ok : 0;
  printf("  %-28s %10lld %12.3f %14.1f %11.3f ms %11.1f%%\n", "no-op", noop->ok, noop->wall_s, rate,
         1e3 * (per_trial - (noop->child_mean_s > 0 ? noop->child_mean_s : 0)),
         noop->wall_s > 0 ? 100.0 * noop->cpu_s / noop->wall_s : 0);
  printf("    (per worker: %.3f ms per trial, of which %.3f ms inside the trial child)\n", 1e3 * per_trial,
         1e3 * noop->child_mean_s);
  if (o->long_trials > 0) {
    char label[64];
    snprintf(label, sizeof label, "long (%d ms each)", o->long_ms);
    printf("  %-28s %10lld %12.3f %14.2f %14s %11.2f%%\n", label, lng->ok, lng->wall_s,
           lng->wall_s > 0 ? (double)lng->ok / lng->wall_s : 0, "-",
           lng->wall_s > 0 ? 100.0 * lng->cpu_s / lng->wall_s : 0);
    if (noop->cpu_s > 0 && lng->wall_s > 0 && noop->wall_s > 0)
      printf("  ratio rank-0 CPU share, long / no-op sweep: %.3f (same run)\n",
             (lng->cpu_s / lng->wall_s) / (noop->cpu_s / noop->wall_s));
  }
}

int cmd_bench_orchestration(int argc, char **argv) {
  if (sw_cli_wants_help(argc, argv)) {
    fputs(s_usage, stdout);
    return SW_EXIT_OK;
  }
  s_bench_opts_t o;
  if (s_parse(argc, argv, &o) != 0) return SW_EXIT_USAGE;
  char dir[] = "/tmp/sw-bench-orch.XXXXXX";
  if (!mkdtemp(dir) || s_write_experiments(dir, &o) != 0) {
    fprintf(stderr, "sparsweep bench orchestration: cannot prepare a temporary directory: %s\n", strerror(errno));
    return SW_EXIT_FAIL;
  }
  s_sweep_result_t noop, lng;
  memset(&lng, 0, sizeof lng);
  int rc = s_sweep(&o, dir, "noop", &noop);
  if (rc == 0 && o.long_trials > 0) rc = s_sweep(&o, dir, "long", &lng);
  char p[600];
  snprintf(p, sizeof p, "%s/long.yaml", dir);
  unlink(p);
  rmdir(dir);
  if (rc != 0) return SW_EXIT_FAIL;
  s_print(&o, &noop, &lng);
  return SW_EXIT_OK;
}
