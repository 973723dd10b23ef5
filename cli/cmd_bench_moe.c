/* `sparsweep bench moe`: MoE-converted FFN (experts of expert_size neurons, k of E experts per token, grouped
 * per-expert sgemm) against the dense OpenBLAS FFN (sgemv at batch 1, sgemm above), per shape and batch size.
 * Dense and MoE calls are interleaved (A B A B) on weights rotated over >= 64 MiB (cold), the speedup is the
 * median of per-pair ratios, and the break-even sparsity is interpolated from a sweep of k/E in eighths.
 * Also callable from `bench kernels` as cmd_bench_moe(argc, argv). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sw_cli.h"
#include "common/sw_time.h"
#include "common/sw_stats.h"
#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_moe.h"

int cmd_bench_moe(int argc, char **argv);

#define BENCH_COLD_BYTES ((size_t)64 << 20) /* > the 32 MiB treated as out of cache (docs/measurement.md, "The machines") */
#define BENCH_MAX_BATCHES 8

typedef struct bench_shape {
  const char *name;
  int         d_model, d_ff;
} bench_shape_t;

static const bench_shape_t k_bench_shapes[] = {
    {"llama7b", 4096, 11008},  /* Llama-2-7B FFN, gated SiLU */
    {"mistral7b", 4096, 14336},
    {"smollm2", 576, 1536},    /* SmolLM2-135M */
};

typedef struct bench_opts {
  const char *shape;       /* NULL = all */
  int         batches[BENCH_MAX_BATCHES];
  int         n_batches;
  int         expert_size;
  double      frac;        /* fraction of experts per token for the headline row */
  int         reps;
  int         threads;
  int         breakeven;   /* sweep k/E in eighths */
  int         warm;        /* 1: no rotation */
} bench_opts_t;

/* One shape's buffers: ncopy rotated dense weights and their MoE copies. */
typedef struct bench_state {
  const bench_shape_t *shape;
  int                  ncopy, E;
  sw_ffn_weights_t    *w;
  sw_moe_t            *moe;
  sw_moe_router_t      router;
} bench_state_t;

static void s_usage(FILE *f) {
  fprintf(f, "usage: sparsweep bench moe [--shape llama7b|mistral7b|smollm2] [--batch 1,16,64] [--expert-size 128]\n"
             "                          [--frac 0.25] [--reps 7] [--threads 1] [--no-breakeven] [--warm]\n");
}

/* --batch 1,16,64: at most BENCH_MAX_BATCHES sizes in 1..4096. */
static int s_parse_batches(bench_opts_t *o, const char *v) {
  int n = sw_cli_parse_int_list(v, 1, 4096, o->batches, BENCH_MAX_BATCHES);
  if (n == SW_CLI_LIST_TOO_LONG)
    fprintf(stderr, "sparsweep bench moe: --batch takes at most %d sizes\n", BENCH_MAX_BATCHES);
  o->n_batches = n > 0 ? n : 0;
  return n > 0 ? 0 : -1;
}

/* One option at argv[*i] (advancing *i past its value); 0, or -1 when unknown, incomplete or out of range. */
static int s_parse_one(bench_opts_t *o, int argc, char **argv, int *i) {
  const char *v;
  int bad = 0;
  if (strcmp(argv[*i], "--no-breakeven") == 0) return o->breakeven = 0, 0;
  if (strcmp(argv[*i], "--warm") == 0) return o->warm = 1, 0;
  if ((v = sw_cli_opt_value(argc, argv, i, "--shape", &bad))) return o->shape = v, 0;
  if ((v = sw_cli_opt_value(argc, argv, i, "--expert-size", &bad))) return sw_cli_parse_int(v, 1, 1 << 20, &o->expert_size);
  if ((v = sw_cli_opt_value(argc, argv, i, "--frac", &bad)))
    return sw_cli_parse_double(v, 0, 1, &o->frac) != 0 || !(o->frac > 0) ? -1 : 0;
  if ((v = sw_cli_opt_value(argc, argv, i, "--reps", &bad))) return sw_cli_parse_int(v, 1, 1 << 20, &o->reps);
  if ((v = sw_cli_opt_value(argc, argv, i, "--threads", &bad))) return sw_cli_parse_int(v, 1, 1024, &o->threads);
  if ((v = sw_cli_opt_value(argc, argv, i, "--batch", &bad))) return s_parse_batches(o, v);
  return -1;
}

static int s_parse(bench_opts_t *o, int argc, char **argv) {
  *o = (bench_opts_t){NULL, {1, 16, 64}, 3, 128, 0.25, 7, 1, 1, 0};
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (s_parse_one(o, argc, argv, &i) != 0) {
      fprintf(stderr, "sparsweep bench moe: bad or incomplete option '%s'\n", opt);
      return -1;
    }
  }
  return 0;
}

static void s_state_free(bench_state_t *st) {
  for (int c = 0; c < st->ncopy && st->w; c++) sw_ffn_weights_free(&st->w[c]), sw_moe_free(&st->moe[c]);
  free(st->w), free(st->moe);
  sw_moe_router_free(&st->router);
  memset(st, 0, sizeof *st);
}

/* Dense weights (random, Llama init scale) and contiguous-partition MoE copies; an untrained D2DMoE router
 * (its cost, not its choices, matters for timing). */
static sw_rc s_state_init(bench_state_t *st, const bench_shape_t *sh, const bench_opts_t *o, sw_err_t *err) {
  memset(st, 0, sizeof *st);
  st->shape = sh;
  if (sh->d_ff % o->expert_size) return sw_err_set(err, SW_ERR_INVALID, "d_ff %d not divisible by expert size %d", sh->d_ff, o->expert_size);
  st->E = sh->d_ff / o->expert_size;
  size_t bytes = (size_t)3 * sh->d_model * sh->d_ff * sizeof(float);
  st->ncopy = o->warm ? 1 : (int)((BENCH_COLD_BYTES + bytes - 1) / bytes);
  st->w = calloc((size_t)st->ncopy, sizeof *st->w);
  st->moe = calloc((size_t)st->ncopy, sizeof *st->moe);
  int32_t *assign = malloc((size_t)sh->d_ff * sizeof(int32_t));
  if (!st->w || !st->moe || !assign) return free(assign), sw_err_set(err, SW_ERR_NOMEM, "bench: out of memory");
  sw_rc rc = sw_partition_make(assign, SW_PARTITION_CONTIGUOUS, NULL, (size_t)sh->d_ff, 0, (size_t)st->E, NULL, 0, err);
  for (int c = 0; c < st->ncopy && !rc; c++) {
    rc = sw_ffn_weights_alloc(&st->w[c], sh->d_model, sh->d_ff, 1, SW_ACT_SILU, 0.0f, SW_DTYPE_F32, err);
    if (!rc) sw_ffn_weights_fill_random(&st->w[c], 1000 + (uint64_t)c);
    if (!rc) rc = sw_moe_build(&st->moe[c], &st->w[c], assign, st->E, err);
  }
  free(assign);
  if (rc) return rc;
  sw_moe_router_cfg_t rcfg;
  sw_moe_router_defaults(&rcfg);
  rcfg.train.epochs = 0;
  float *x1 = calloc((size_t)sh->d_model, sizeof(float));
  if (!x1) return sw_err_set(err, SW_ERR_NOMEM, "bench: out of memory");
  rc = sw_moe_router_train(&st->router, SW_MOE_ROUTER_MLP, &st->moe[0], x1, 1, &rcfg, NULL, err);
  free(x1);
  return rc;
}

/* Random k-of-E expert mask per token. */
static void s_random_mask(sw_mask_t *m, int E, int k, int n_tok, uint64_t seed) {
  sw_mlp_rng_t r = {seed};
  uint8_t *flags = calloc((size_t)E * (size_t)n_tok, 1);
  int32_t *ids = malloc((size_t)E * sizeof *ids);
  for (int t = 0; t < n_tok && flags && ids; t++) {
    for (int e = 0; e < E; e++) ids[e] = e;
    for (int j = 0; j < k; j++) { /* partial Fisher-Yates */
      int q = j + (int)sw_mlp_rng_below(&r, (size_t)(E - j)), tmp = ids[j];
      ids[j] = ids[q], ids[q] = tmp;
      flags[(size_t)t * E + ids[j]] = 1;
    }
  }
  sw_mask_from_flags(m, flags, n_tok);
  free(flags), free(ids);
}

typedef struct pair_result {
  double dense_s, moe_s, ratio; /* medians */
} pair_result_t;

/* Interleaved dense / MoE timing over rotated copies.  routed: include the router + top-k selection. */
static pair_result_t s_time_pairs(bench_state_t *st, const bench_opts_t *o, const float *x, float *out, int n_tok,
                                  int k, int routed, sw_ffn_work_t *fw, sw_moe_work_t *mw, sw_mask_t *mask) {
  double *td = malloc((size_t)o->reps * sizeof(double)), *tm = malloc((size_t)o->reps * sizeof(double));
  double *tr = malloc((size_t)o->reps * sizeof(double));
  pair_result_t res = {NAN, NAN, NAN};
  if (!td || !tm || !tr) goto out;
  int c = 0;
  for (int rep = -1; rep < o->reps; rep++) { /* rep -1: warm-up pair */
    int64_t t0 = sw_now_ns();
    sw_ffn_dense_forward(out, x, &st->w[c], NULL, fw, n_tok);
    int64_t t1 = sw_now_ns();
    c = (c + 1) % st->ncopy;
    if (routed)
      sw_moe_forward_routed(out, mask, x, &st->moe[c], &st->router, SW_MOE_SELECT_TOPK, k, 0.0, NULL, mw, n_tok);
    else
      sw_moe_forward(out, x, &st->moe[c], mask, NULL, mw, n_tok);
    int64_t t2 = sw_now_ns();
    c = (c + 1) % st->ncopy;
    if (rep < 0) continue;
    td[rep] = 1e-9 * (double)(t1 - t0), tm[rep] = 1e-9 * (double)(t2 - t1), tr[rep] = td[rep] / tm[rep];
  }
  size_t n = (size_t)o->reps;
  res.dense_s = sw_median(td, n), res.moe_s = sw_median(tm, n), res.ratio = sw_median(tr, n);
out:
  free(td), free(tm), free(tr);
  return res;
}

/* Break-even sparsity: sweep k = E·j/8 (s = 1 - k/E from 0 up), record each median speedup in sweep_s/sweep_r
 * (n points), and interpolate linearly where the speedup first reaches 1.  INFINITY: slower at every point. */
static double s_break_even(bench_state_t *st, const bench_opts_t *o, const float *x, float *out, int n_tok,
                           sw_ffn_work_t *fw, sw_moe_work_t *mw, sw_mask_t *mask, double *sweep_s, double *sweep_r,
                           int *n) {
  double be = INFINITY;
  *n = 0;
  for (int j = 8; j >= 1; j--) {
    int k = (int)lround(st->E * j / 8.0);
    if (k < 1) k = 1;
    double s = 1.0 - (double)k / st->E;
    s_random_mask(mask, st->E, k, n_tok, 77 + (uint64_t)j);
    double r = s_time_pairs(st, o, x, out, n_tok, k, 0, fw, mw, mask).ratio;
    sweep_s[*n] = s, sweep_r[*n] = r;
    if (r >= 1.0 && isinf(be))
      be = *n == 0 ? s : sweep_s[*n - 1] + (s - sweep_s[*n - 1]) * (1.0 - sweep_r[*n - 1]) / (r - sweep_r[*n - 1]);
    (*n)++;
  }
  return be;
}

static int s_bench_batch(bench_state_t *st, const bench_opts_t *o, int n_tok) {
  const int d = st->shape->d_model, E = st->E;
  sw_err_t err = {0};
  sw_ffn_work_t fw = {0};
  sw_moe_work_t mw = {0};
  sw_mask_t mask = {0};
  float *x = malloc((size_t)n_tok * d * sizeof(float)), *out = malloc((size_t)n_tok * d * sizeof(float));
  sw_rc rc = x && out ? SW_OK : sw_err_set(&err, SW_ERR_NOMEM, "out of memory (batch %d)", n_tok);
  if (!rc) rc = sw_ffn_work_alloc(&fw, d, st->shape->d_ff, n_tok, 1, &err);
  if (!rc) rc = sw_moe_work_alloc(&mw, &st->moe[0], &st->router, n_tok, &err);
  if (!rc) rc = sw_mask_alloc(&mask, E, n_tok, &err);
  if (rc) {
    fprintf(stderr, "sparsweep bench moe: %s\n", err.msg);
    free(x), free(out);
    sw_mask_free(&mask), sw_moe_work_free(&mw), sw_ffn_work_free(&fw);
    return SW_EXIT_FAIL;
  }
  sw_mlp_rng_t r = {5};
  for (int i = 0; i < n_tok * d; i++) x[i] = (float)sw_mlp_rng_normal(&r);
  int k = (int)lround(o->frac * E);
  if (k < 1) k = 1;
  s_random_mask(&mask, E, k, n_tok, 42);
  pair_result_t plain = s_time_pairs(st, o, x, out, n_tok, k, 0, &fw, &mw, &mask);
  pair_result_t routed = s_time_pairs(st, o, x, out, n_tok, k, 1, &fw, &mw, &mask);
  double sweep_s[8], sweep_r[8];
  int n_sweep = 0;
  double be = o->breakeven ? s_break_even(st, o, x, out, n_tok, &fw, &mw, &mask, sweep_s, sweep_r, &n_sweep) : NAN;
  double bytes = (double)k * st->moe[0].expert_size * 3.0 * d * sizeof(float);
  printf("%-10s %5d %4d %4d %6.3f %9.3f %9.3f %8.2fx %6.2fx %8.1f %10.3f %8.2fx",
         st->shape->name, n_tok, E, k, (double)k / E, 1e3 * plain.dense_s, 1e3 * plain.moe_s, plain.ratio,
         (double)E / k, n_tok == 1 ? 1e-9 * bytes / plain.moe_s : NAN, 1e3 * routed.moe_s, routed.ratio);
  if (isnan(be)) printf("  -\n");
  else if (isinf(be)) printf("  >%.3f\n", 1.0 - 1.0 / 8);
  else printf("  %.3f\n", be);
  if (n_sweep) {
    printf("%-10s %5d   speedup by sparsity:", "", n_tok);
    for (int i = 0; i < n_sweep; i++) printf(" %.3f:%.2fx", sweep_s[i], sweep_r[i]);
    printf("\n");
  }
  fflush(stdout);
  free(x), free(out);
  sw_mask_free(&mask);
  sw_moe_work_free(&mw);
  sw_ffn_work_free(&fw);
  return SW_EXIT_OK;
}

int cmd_bench_moe(int argc, char **argv) {
  bench_opts_t o;
  if (sw_cli_wants_help(argc, argv)) return s_usage(stdout), SW_EXIT_OK;
  if (s_parse(&o, argc, argv)) return s_usage(stderr), SW_EXIT_USAGE;
  openblas_set_num_threads(o.threads);
  printf("# MoE FFN vs dense OpenBLAS: gated SiLU, f32, expert size %d, %d thread(s), OpenBLAS core %s, %s, "
         "median of %d interleaved pairs; selection = random k-of-E (router+top-k included in moe+router)\n",
         o.expert_size, o.threads, openblas_get_corename(), o.warm ? "warm" : "cold (weights rotated over >= 64 MiB)",
         o.reps);
  printf("%-10s %5s %4s %4s %6s %9s %9s %9s %7s %8s %10s %9s  %s\n", "shape", "batch", "E", "k", "k/E", "dense_ms",
         "moe_ms", "speedup", "ideal", "moe_GB/s", "routed_ms", "speedup", "break_even_s");
  int rc = SW_EXIT_OK, matched = 0;
  for (size_t si = 0; si < sizeof k_bench_shapes / sizeof k_bench_shapes[0] && rc == SW_EXIT_OK; si++) {
    const bench_shape_t *sh = &k_bench_shapes[si];
    if (o.shape && strcmp(o.shape, sh->name) != 0) continue;
    matched = 1;
    bench_state_t st;
    sw_err_t err;
    if (s_state_init(&st, sh, &o, &err)) {
      fprintf(stderr, "sparsweep bench moe: %s: %s\n", sh->name, err.msg);
      s_state_free(&st);
      return SW_EXIT_FAIL;
    }
    for (int b = 0; b < o.n_batches && rc == SW_EXIT_OK; b++) rc = s_bench_batch(&st, &o, o.batches[b]);
    s_state_free(&st);
  }
  if (!matched) {
    fprintf(stderr, "sparsweep bench moe: unknown shape '%s' (llama7b, mistral7b, smollm2)\n", o.shape);
    return SW_EXIT_USAGE;
  }
  return rc;
}
