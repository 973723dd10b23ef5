/* `sparsweep bench kernels`: dense (OpenBLAS) vs activation-sparse FFN kernels on the issue-3 shapes, printed
 * as same-run ratios.  Dense and sparse calls are interleaved A B A B; the speedup is the median of per-pair
 * ratios.  Cold = every call uses the next of several weight copies spanning > 256 MiB (beyond the LLC); warm =
 * one copy.  The machine's read bandwidth is measured in the same run over the same buffers, as the fastest of
 * the read strategies of kernels/sw_membw.h in the best SIMD variant (the anchor); a row above 105% of it is
 * not printed as a percentage but reported as a wrong anchor (exit 1).  Columns: GB/s and %bw = sparse weight
 * bytes / sparse time (and as % of the anchor), dGB/s = the dense baseline's weight bytes / dense time.  The
 * kernels run in the variant --isa chooses (default: SPARSWEEP_KERNEL_ISA or the best); at batch 1 the mask
 * rows are repeated in every other variant the CPU runs.  The VM is shared and noisy: compare rows only
 * within one run. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sw_cli.h"
#include "common/sw_time.h"
#include "common/sw_stats.h"
#include "kernels/sw_ffn.h"
#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_ffn_sparse.h"
#include "kernels/sw_isa.h"
#include "kernels/sw_membw.h"
#include "kernels/sw_policy.h"

int cmd_bench_kernels(int argc, char **argv);

#define BK_COLD_BYTES ((size_t)512 << 20) /* rotation span: 16x the 32 MiB L3, so that its retention is negligible */
#define BK_MAX_REPS 64
#define BK_N_MASKS 4
#define BK_CALIB_TOK 32
#define BK_BW_MAX_PCT 105.0 /* a kernel cannot read faster than the machine: above this the anchor is wrong */

typedef struct bk_shape {
  const char *name;
  int         d_model, d_ff;
} bk_shape_t;

static const bk_shape_t bk_shapes[] = {{"llama7b", 4096, 11008}, {"mistral7b", 4096, 14336}, {"smollm2", 576, 1536}};

typedef struct bk_opts {
  int    quick, reps, bf16, threads2, mask_only;
  int    shape_on[3];
  int    batches[8], n_batches;
  int    warm; /* also run warm rows */
  sw_isa_t isa; /* resolved kernel variant */
} bk_opts_t;

/* The bandwidth anchor of a run: GB/s of the fastest read strategy and the rows that exceeded it. */
typedef struct bk_anchor {
  double gbs;
  int    errors;
} bk_anchor_t;

typedef struct bk_ctx {
  sw_ffn_weights_t *copies;
  int               n_copies, next, warm;
  size_t            copy_bytes;
  sw_ffn_work_t     work;
  sw_mask_t         masks[BK_N_MASKS], mask_out;
  float            *x, *out;
  int               n_tok, mask_next;
  sw_policy_t       policy;
  sw_isa_t          isa;    /* kernel variant of work */
  sw_membw_t        reader; /* read method of the bandwidth anchor */
} bk_ctx_t;

typedef enum bk_kind { BK_DENSE, BK_MASK, BK_POLICY } bk_kind_t;

static const sw_ffn_weights_t *bk_weights(bk_ctx_t *c) {
  if (c->warm) return &c->copies[0];
  const sw_ffn_weights_t *w = &c->copies[c->next];
  c->next = (c->next + 1) % c->n_copies;
  return w;
}

/* One timed call; stats of the call in *st. */
static double bk_call(bk_ctx_t *c, bk_kind_t kind, sw_ffn_stats_t *st) {
  const sw_ffn_weights_t *w = bk_weights(c);
  int64_t                 t0 = sw_now_ns();
  sw_rc                   rc = SW_OK;
  if (kind == BK_DENSE) {
    rc = sw_ffn_dense_forward(c->out, c->x, w, st, &c->work, c->n_tok);
  } else if (kind == BK_MASK) {
    sw_mask_t *m = &c->masks[c->mask_next];
    c->mask_next = (c->mask_next + 1) % BK_N_MASKS;
    rc = sw_ffn_sparse_forward(c->out, c->x, w, m, st, &c->work, c->n_tok);
  } else {
    rc = sw_ffn_policy_forward(c->out, &c->mask_out, c->x, w, &c->policy, (uint64_t)c->next, st, &c->work, c->n_tok);
  }
  int64_t t1 = sw_now_ns();
  if (rc != SW_OK) fprintf(stderr, "bench kernels: kernel call failed (%d)\n", (int)rc);
  return (double)(t1 - t0) * 1e-9;
}

typedef struct bk_result {
  double ta, tb, ratio, bytes_b, sparsity, bytes_a;
  double bw; /* fastest read pass (GB/s) over a's weight copies, interleaved with the pairs */
} bk_result_t;

/* One streaming read pass over all of c's copies (seconds), on pool's threads (NULL = calling thread). */
static double bk_read_pass(bk_ctx_t *c, sw_pool_t *pool, float *sink) {
  int64_t t0 = sw_now_ns();
  for (int k = 0; k < c->n_copies; k++) *sink += sw_membw_read_pool(pool, &c->reader, c->copies[k].owned_buf, c->copy_bytes);
  return (double)(sw_now_ns() - t0) * 1e-9;
}

/* Interleaved A B pairs (A on context ca, B on cb): medians of each side and of the per-pair ratios tA/tB.  A
 * read pass over ca's copies (on ca's pool) follows every pair, so the row's bandwidth anchor sees the same
 * machine state as its kernels. */
static bk_result_t bk_pairs_x(bk_ctx_t *ca, bk_kind_t a, bk_ctx_t *cb, bk_kind_t b, int reps) {
  double         ta[BK_MAX_REPS], tb[BK_MAX_REPS], r[BK_MAX_REPS], sp = 0.0, bw = 0.0;
  float          sink = 0.0f;
  sw_ffn_stats_t st;
  bk_call(ca, a, &st); /* warm-up: page tables, OpenBLAS buffers */
  double bytes_a = st.weight_bytes;
  bk_call(cb, b, &st);
  double bytes = 0.0;
  for (int i = 0; i < reps; i++) {
    ta[i] = bk_call(ca, a, &st);
    tb[i] = bk_call(cb, b, &st);
    r[i] = ta[i] / tb[i];
    bytes = st.weight_bytes;
    sp += 1.0 - (double)st.neurons_executed / (double)st.neurons_total;
    double g = (double)ca->copy_bytes * ca->n_copies / bk_read_pass(ca, ca->work.pool, &sink) * 1e-9;
    bw = g > bw ? g : bw;
  }
  if (sink == 12345.678f) printf(" ");
  size_t      n = (size_t)reps;
  bk_result_t res = {sw_median(ta, n), sw_median(tb, n), sw_median(r, n), bytes, sp / reps, bytes_a, bw};
  return res;
}

static bk_result_t bk_pairs(bk_ctx_t *c, bk_kind_t a, bk_kind_t b, int reps) { return bk_pairs_x(c, a, c, b, reps); }

static void bk_print_header(void) {
  printf("%-9s %5s %4s %-6s %-13s %5s %6s %9s %9s %7s %6s %6s %7s %5s %7s\n", "shape", "batch", "thr", "cache",
         "method", "s", "s_ach", "dense_ms", "sparse_ms", "speedup", "ideal", "/ideal", "GB/s", "%bw", "dGB/s");
}

/* One result row.  %bw is against the larger of the run's anchor and the row's own interleaved read passes; above
 * BK_BW_MAX_PCT it is refused (printed as "ERR", counted in bw->errors). */
static void bk_print_row(const char *shape, int batch, int thr, const char *cache, const char *method, double s,
                         const bk_result_t *r, double ideal, bk_anchor_t *bw) {
  double anchor = r->bw > bw->gbs ? r->bw : bw->gbs, gbs = r->bytes_b / r->tb * 1e-9, pct = 100.0 * gbs / anchor;
  char   pct_s[16];
  snprintf(pct_s, sizeof pct_s, "%.0f", pct);
  if (pct > BK_BW_MAX_PCT) {
    snprintf(pct_s, sizeof pct_s, "ERR");
    bw->errors++;
    fprintf(stderr, "bench kernels: %s %s s=%.2f reads %.1f GB/s, %.0f%% of the %.1f GB/s anchor: the bandwidth "
            "anchor is wrong (a kernel cannot outrun the machine's read rate)\n", shape, method, s, gbs, pct, anchor);
  }
  printf("%-9s %5d %4d %-6s %-13s %5.2f %6.3f %9.3f %9.3f %7.2f %6.2f %6.2f %7.1f %5s %7.1f\n", shape, batch, thr,
         cache, method, s, r->sparsity, r->ta * 1e3, r->tb * 1e3, r->ratio, ideal, r->ratio / ideal, gbs, pct_s,
         r->bytes_a / r->ta * 1e-9);
  fflush(stdout);
}

static int bk_alloc_copies(bk_ctx_t *c, const bk_shape_t *sh, sw_dtype_t dt, int n_copies) {
  sw_err_t err;
  c->copies = calloc((size_t)n_copies, sizeof *c->copies);
  if (!c->copies) return -1;
  for (int k = 0; k < n_copies; k++) {
    if (sw_ffn_weights_alloc(&c->copies[k], sh->d_model, sh->d_ff, 1, SW_ACT_SILU, 0, dt, &err) != SW_OK) {
      fprintf(stderr, "bench kernels: %s\n", err.msg);
      return -1;
    }
    sw_ffn_weights_fill_random(&c->copies[k], 1000 + (uint64_t)k);
    c->n_copies = k + 1;
  }
  c->copy_bytes = c->copies[0].ld_up * (size_t)sh->d_ff * (dt == SW_DTYPE_BF16 ? 2 : 4);
  return 0;
}

static void bk_free_copies(bk_ctx_t *c) {
  for (int k = 0; k < c->n_copies; k++) sw_ffn_weights_free(&c->copies[k]);
  free(c->copies);
  c->copies = NULL;
  c->n_copies = 0;
}

/* Read bandwidth over all copies (GB/s) with one read method: median of n passes (*best receives the fastest). */
static double bk_bandwidth(bk_ctx_t *c, sw_pool_t *pool, const sw_membw_t *how, int n, double *best_out) {
  double v[7], best = 0.0;
  float  sink = 0.0f;
  for (int rep = 0; rep < n; rep++) {
    int64_t t0 = sw_now_ns();
    for (int k = 0; k < c->n_copies; k++)
      sink += sw_membw_read_pool(pool, how, c->copies[k].owned_buf, c->copy_bytes);
    v[rep] = (double)c->copy_bytes * c->n_copies / ((double)(sw_now_ns() - t0) * 1e-9) * 1e-9;
    best = v[rep] > best ? v[rep] : best;
  }
  if (sink == 12345.678f) printf(" ");
  *best_out = best;
  return sw_median(v, (size_t)n);
}

/* The anchor's read method: every strategy of the best SIMD variant, in BK_PICK_ROUNDS interleaved rounds on the
 * calling thread; the strategy with the fastest pass wins (on a shared machine noise only slows a pass down, so
 * the fastest pass is the closest to the machine's rate).  *plain_gbs receives the plain strategy's fastest pass
 * (the reference the anchor must stay near). */
#define BK_PICK_ROUNDS 4
static sw_membw_t bk_pick_reader(bk_ctx_t *c, double *plain_gbs) {
  sw_isa_t isa = sw_isa_best();
  double   top[SW_MEMBW_N_STRATEGIES] = {0}, pass;
  for (int r = 0; r < BK_PICK_ROUNDS; r++)
    for (int st = 0; st < SW_MEMBW_N_STRATEGIES; st++) {
      sw_membw_t how = {isa, (sw_membw_strategy_t)st};
      bk_bandwidth(c, NULL, &how, 1, &pass);
      if (pass > top[st]) top[st] = pass;
    }
  sw_membw_t best = {isa, SW_MEMBW_PLAIN};
  for (int st = 1; st < SW_MEMBW_N_STRATEGIES; st++)
    if (top[st] > top[best.strategy]) best.strategy = (sw_membw_strategy_t)st;
  *plain_gbs = top[SW_MEMBW_PLAIN];
  return best;
}

static int bk_setup_batch(bk_ctx_t *c, const bk_shape_t *sh, int n_tok, int threads) {
  sw_err_t err;
  c->n_tok = n_tok;
  if (sw_ffn_work_alloc(&c->work, sh->d_model, sh->d_ff, n_tok < BK_CALIB_TOK ? BK_CALIB_TOK : n_tok, threads,
                        &err) != SW_OK ||
      sw_ffn_work_set_isa(&c->work, c->isa, &err) != SW_OK ||
      sw_mask_alloc(&c->mask_out, sh->d_ff, n_tok, &err) != SW_OK) {
    fprintf(stderr, "bench kernels: %s\n", err.msg);
    return -1;
  }
  for (int k = 0; k < BK_N_MASKS; k++)
    if (sw_mask_alloc(&c->masks[k], sh->d_ff, n_tok, &err) != SW_OK) return -1;
  c->x = malloc((size_t)n_tok * sh->d_model * sizeof *c->x);
  c->out = malloc((size_t)n_tok * sh->d_model * sizeof *c->out);
  if (!c->x || !c->out) return -1;
  uint64_t s = 17;
  for (size_t i = 0; i < (size_t)n_tok * sh->d_model; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    c->x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 3.4641016 - 1.7320508); /* unit variance */
  }
  return 0;
}

static void bk_free_batch(bk_ctx_t *c) {
  sw_ffn_work_free(&c->work);
  sw_mask_free(&c->mask_out);
  for (int k = 0; k < BK_N_MASKS; k++) sw_mask_free(&c->masks[k]);
  free(c->x);
  free(c->out);
  c->x = c->out = NULL;
}

/* Random masks with exactly round((1-s) d_ff) active neurons per token (the random policy). */
static void bk_random_masks(bk_ctx_t *c, int d_ff, double s) {
  sw_err_t    err;
  sw_policy_t p;
  sw_policy_init(&p, SW_POLICY_RANDOM, d_ff, 99, &err);
  sw_policy_calibrate(&p, NULL, NULL, NULL, 0, s, &err);
  for (int k = 0; k < BK_N_MASKS; k++) sw_policy_select(&c->masks[k], &p, NULL, NULL, (uint64_t)k, NULL, c->n_tok);
  sw_policy_free(&p);
}

/* Calibrates c->policy on activation samples of copy 0 (fresh random tokens). */
static int bk_calibrate(bk_ctx_t *c, const bk_shape_t *sh, sw_policy_kind_t kind, double s) {
  sw_err_t err;
  size_t   nf = (size_t)BK_CALIB_TOK * sh->d_ff;
  float   *xs = malloc((size_t)BK_CALIB_TOK * sh->d_model * sizeof *xs), *g = malloc(nf * sizeof *g),
        *u = malloc(nf * sizeof *u);
  int      rc = (xs && g && u) ? 0 : -1;
  uint64_t st = 4242;
  for (size_t i = 0; rc == 0 && i < (size_t)BK_CALIB_TOK * sh->d_model; i++) {
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    xs[i] = (float)((double)(st >> 11) / 9007199254740992.0 * 3.4641016 - 1.7320508);
  }
  if (rc == 0) rc = sw_ffn_dense_acts(g, u, NULL, xs, &c->copies[0], &c->work, BK_CALIB_TOK) == SW_OK ? 0 : -1;
  if (rc == 0) rc = sw_policy_init(&c->policy, kind, sh->d_ff, 7, &err) == SW_OK ? 0 : -1;
  if (rc == 0 && sw_policy_calibrate(&c->policy, &c->copies[0], g, u, BK_CALIB_TOK, s, &err) != SW_OK) {
    fprintf(stderr, "bench kernels: %s\n", err.msg);
    rc = -1;
  }
  free(xs), free(g), free(u);
  return rc;
}

static const double bk_mask_s[] = {0.0, 0.25, 0.5, 0.8, 0.9};
static const double bk_pol_s[] = {0.5, 0.8, 0.9};

/* Linear interpolation of the sparsity where the mask kernel's speedup crosses 1. */
static double bk_break_even(const double *s, const double *spd, int n) {
  if (spd[0] >= 1.0) return 0.0;
  for (int i = 1; i < n; i++)
    if (spd[i] >= 1.0) return s[i - 1] + (s[i] - s[i - 1]) * (1.0 - spd[i - 1]) / (spd[i] - spd[i - 1]);
  return NAN;
}

/* Batch 1 only: the s = 0, 0.5, 0.8, 0.9 mask rows in every other variant this CPU runs, next to the chosen one. */
static void bk_other_variants(bk_ctx_t *c, const bk_shape_t *sh, int reps, bk_anchor_t *bw) {
  sw_err_t err;
  for (int l = SW_ISA_COUNT - 1; l >= SW_ISA_PORTABLE; l--) {
    if (l == (int)c->isa || !sw_isa_supported((sw_isa_t)l)) continue;
    char label[24];
    snprintf(label, sizeof label, "mask@%s", sw_isa_name((sw_isa_t)l));
    if (sw_ffn_work_set_isa(&c->work, (sw_isa_t)l, &err) != SW_OK) continue;
    for (int k = 0; k < 5; k++) {
      if (k == 1) continue;
      bk_random_masks(c, sh->d_ff, bk_mask_s[k]);
      bk_result_t r = bk_pairs(c, BK_DENSE, BK_MASK, reps);
      bk_print_row(sh->name, 1, 1, c->warm ? "warm" : "cold", label, bk_mask_s[k], &r, 1.0 / (1.0 - bk_mask_s[k]),
                   bw);
    }
  }
  sw_ffn_work_set_isa(&c->work, c->isa, &err);
}

static int bk_run_batch(bk_ctx_t *c, const bk_shape_t *sh, int batch, const char *cache, const bk_opts_t *o,
                        bk_anchor_t *bw) {
  int reps = batch >= 64 ? (o->reps + 1) / 2 + 1 : o->reps;
  if (bk_setup_batch(c, sh, batch, 1) != 0) return -1;
  double spd[5];
  int    n_mask = o->quick ? 0 : 5;
  for (int k = 0; k < n_mask; k++) {
    bk_random_masks(c, sh->d_ff, bk_mask_s[k]);
    bk_result_t r = bk_pairs(c, BK_DENSE, BK_MASK, reps);
    spd[k] = r.ratio;
    bk_print_row(sh->name, batch, 1, cache, "mask", bk_mask_s[k], &r, 1.0 / (1.0 - bk_mask_s[k]), bw);
  }
  if (o->quick) {
    for (int k = 2; k < 5; k += 2) {
      bk_random_masks(c, sh->d_ff, bk_mask_s[k]);
      bk_result_t r = bk_pairs(c, BK_DENSE, BK_MASK, reps);
      bk_print_row(sh->name, batch, 1, cache, "mask", bk_mask_s[k], &r, 1.0 / (1.0 - bk_mask_s[k]), bw);
    }
  } else {
    printf("%-9s %5d    1 %-6s break-even sparsity (mask kernel vs dense): %.2f\n", sh->name, batch, cache,
           bk_break_even(bk_mask_s, spd, 5));
  }
  if (batch == 1 && !c->warm) bk_other_variants(c, sh, reps, bw);
  static const sw_policy_kind_t kinds[] = {SW_POLICY_THRESHOLD, SW_POLICY_CHESS, SW_POLICY_TOPK, SW_POLICY_CETT};
  static const double           cett_tau[] = {0.05, 0.1, 0.2};
  /* batch 64 calls are long: CATS only; CETT (costly calibration) at batch 1 only */
  int n_kinds = o->mask_only ? 0 : (o->quick || batch >= 64) ? 1 : (batch == 1 ? 4 : 3);
  for (int ki = 0; ki < n_kinds; ki++) {
    int cett = kinds[ki] == SW_POLICY_CETT;
    for (int k = 0; k < 3; k++) {
      if (o->quick && k == 1) continue;
      double target = cett ? cett_tau[k] : bk_pol_s[k];
      if (bk_calibrate(c, sh, kinds[ki], target) != 0) return -1;
      bk_result_t r = bk_pairs(c, BK_DENSE, BK_POLICY, reps);
      double      s = cett ? r.sparsity : target;
      int         full_h = kinds[ki] == SW_POLICY_TOPK || cett; /* gate and up computed densely */
      double      ideal = full_h ? 3.0 / (2.0 + (1.0 - s)) : 3.0 / (1.0 + 2.0 * (1.0 - s));
      bk_print_row(sh->name, batch, 1, cache, kinds[ki] == SW_POLICY_THRESHOLD ? "cats" : sw_policy_name(kinds[ki]),
                   target, &r, ideal, bw);
      sw_policy_free(&c->policy);
    }
  }
  bk_free_batch(c);
  return 0;
}


/* Interleaved loop of 1-thread sparse (c1), 2-thread sparse (c2), 1-thread and 2-thread read passes: medians of
 * the per-iteration 2/1-thread throughput ratios of the sparse kernel (returned) and of the read (*bw_ratio),
 * so that both see the same machine state on this shared VM. */
static double bk_thread_ratios(bk_ctx_t *c1, bk_ctx_t *c2, int reps, double *bw_ratio) {
  double         rs[BK_MAX_REPS], rb[BK_MAX_REPS];
  float          sink = 0.0f;
  sw_ffn_stats_t st;
  bk_call(c1, BK_MASK, &st);
  bk_call(c2, BK_MASK, &st);
  for (int i = 0; i < reps; i++) {
    double s1 = bk_call(c1, BK_MASK, &st), s2 = bk_call(c2, BK_MASK, &st);
    double b1 = bk_read_pass(c1, NULL, &sink), b2 = bk_read_pass(c1, c2->work.pool, &sink);
    rs[i] = s1 / s2;
    rb[i] = b1 / b2;
  }
  if (sink == 12345.678f) printf(" ");
  *bw_ratio = sw_median(rb, (size_t)reps);
  return sw_median(rs, (size_t)reps);
}

/* 2 threads (batch 1, s = 0.5 mask).  The sparse 2-thread/1-thread throughput is the median ratio of interleaved
 * pairs of 1-thread and 2-thread sparse calls (a same-run ratio, not two medians from separate phases), run
 * while OpenBLAS is on 1 thread so that its idle workers, which poll for a while after each multi-threaded
 * call, cannot compete for the second core; 1- and 2-thread read passes run in the same loop, and the target
 * is 0.9x their ratio.  Then dense (OpenBLAS, 2 threads) vs sparse, both on 2 threads, and the dense
 * 2/1-thread ratio. */
static int bk_run_threads(bk_ctx_t *c, const bk_shape_t *sh, const bk_opts_t *o, double bw1, bk_anchor_t *bw2) {
  if (bk_setup_batch(c, sh, 1, 1) != 0) return -1;
  bk_random_masks(c, sh->d_ff, 0.5);
  bk_result_t one = bk_pairs(c, BK_DENSE, BK_MASK, o->reps);
  bk_ctx_t    c2 = *c; /* same copies and masks, own workspace with a 2-thread pool */
  sw_err_t    err;
  c2.next = c->n_copies / 2; /* the two sides never read a copy the other has just read */
  if (sw_ffn_work_alloc(&c2.work, sh->d_model, sh->d_ff, BK_CALIB_TOK, 2, &err) != SW_OK ||
      sw_ffn_work_set_isa(&c2.work, c->isa, &err) != SW_OK)
    return -1;
  double      bw21 = 0.0, s21 = bk_thread_ratios(c, &c2, o->reps, &bw21);
  openblas_set_num_threads(2);
  bk_result_t two = bk_pairs(&c2, BK_DENSE, BK_MASK, o->reps);
  openblas_set_num_threads(1);
  sw_ffn_work_free(&c2.work);
  bk_print_row(sh->name, 1, 2, "cold", "mask", 0.5, &two, 2.0, bw2);
  printf("%-9s     1    2 cold   2-thread/1-thread throughput: sparse %.2fx, read bandwidth %.2fx (interleaved "
         "in the same loop; %.2fx from the passes above), target >= %.2fx; OpenBLAS dense %.2fx\n",
         sh->name, s21, bw21, bw2->gbs / bw1, 0.9 * bw21, one.ta / two.ta);
  bk_free_batch(c);
  return 0;
}

/* bf16 weights (batch 1, cold), against the f32 OpenBLAS dense baseline of cf (interleaved): the bf16 dense
 * (gathered kernel, every neuron; ideal 2) and the bf16 mask kernel (ideal 2/(1-s)). */
static int bk_run_bf16(const bk_shape_t *sh, const bk_opts_t *o, bk_anchor_t *bw, bk_ctx_t *cf) {
  bk_ctx_t c;
  memset(&c, 0, sizeof c);
  c.isa = cf->isa;
  c.reader = cf->reader;
  size_t one = (size_t)sh->d_model * sh->d_ff * 3 * 2;
  int    n_copies = (int)((BK_COLD_BYTES + one - 1) / one), rc = -1;
  if (bk_alloc_copies(&c, sh, SW_DTYPE_BF16, n_copies) == 0 && bk_setup_batch(&c, sh, 1, 1) == 0 &&
      bk_setup_batch(cf, sh, 1, 1) == 0) {
    bk_result_t r = bk_pairs_x(cf, BK_DENSE, &c, BK_DENSE, o->reps);
    bk_print_row(sh->name, 1, 1, "cold", "bf16dense", 0.0, &r, 2.0, bw);
    for (int k = 2; k < 5; k++) {
      if (o->quick && k == 3) continue;
      bk_random_masks(&c, sh->d_ff, bk_mask_s[k]);
      r = bk_pairs_x(cf, BK_DENSE, &c, BK_MASK, o->reps);
      bk_print_row(sh->name, 1, 1, "cold", "bf16mask", bk_mask_s[k], &r, 2.0 / (1.0 - bk_mask_s[k]), bw);
    }
    rc = 0;
  }
  bk_free_batch(cf);
  bk_free_batch(&c);
  bk_free_copies(&c);
  return rc;
}

/* Runs every row of one shape: -1 on failure, else the number of rows refused for exceeding the anchor. */
static int bk_run_shape(const bk_shape_t *sh, const bk_opts_t *o) {
  bk_ctx_t c;
  memset(&c, 0, sizeof c);
  size_t one = (size_t)sh->d_model * sh->d_ff * 3 * 4;
  int    n_copies = (int)((BK_COLD_BYTES + one - 1) / one);
  c.isa = o->isa;
  if (bk_alloc_copies(&c, sh, SW_DTYPE_F32, n_copies) != 0) return -1;
  sw_err_t   err;
  sw_pool_t *pool = NULL;
  if (sw_pool_create(&pool, 2, &err) != SW_OK) return -1;
  double     plain = 0.0, best1, best2;
  sw_membw_t how = bk_pick_reader(&c, &plain);
  c.reader = how;
  double     bw1 = bk_bandwidth(&c, NULL, &how, 7, &best1), bw2 = bk_bandwidth(&c, pool, &how, 7, &best2);
  sw_pool_destroy(pool);
  bk_anchor_t a1 = {best1, 0}, a2 = {best2, 0};
  printf("# %s: d_model %d d_ff %d gated SiLU, f32 weights %.1f MiB x %d copies; read bandwidth (median of 7 passes, "
         "best) 1 thread %.1f (%.1f) GB/s, 2 threads %.1f (%.1f) GB/s; %%bw: against the larger of the best pass and the row's own interleaved read passes\n",
         sh->name, sh->d_model, sh->d_ff, one / 1048576.0, n_copies, bw1, best1, bw2, best2);
  printf("# %s: bandwidth anchor measured by %s/%s (fastest of %d read strategies, best pass of %d interleaved "
         "rounds); plain %s read %.1f GB/s best pass, anchor/plain %.2f\n",
         sh->name, sw_isa_name(how.isa), sw_membw_strategy_name(how.strategy), (int)SW_MEMBW_N_STRATEGIES,
         BK_PICK_ROUNDS, sw_isa_name(how.isa), plain, best1 / plain);
  for (int b = 0; b < o->n_batches; b++) {
    c.warm = 0;
    if (bk_run_batch(&c, sh, o->batches[b], "cold", o, &a1) != 0) return -1;
    if (o->warm && one < BK_COLD_BYTES / 8) {
      c.warm = 1;
      if (bk_run_batch(&c, sh, o->batches[b], "warm", o, &a1) != 0) return -1;
    }
  }
  c.warm = 0;
  if (o->threads2 && bk_run_threads(&c, sh, o, best1, &a2) != 0) return -1;
  int rc = o->bf16 ? bk_run_bf16(sh, o, &a1, &c) : 0;
  bk_free_copies(&c);
  if (rc == 0 && a1.errors + a2.errors > 0)
    fprintf(stderr, "bench kernels: %s: %d rows above %.0f%% of the bandwidth anchor: the anchor is wrong\n", sh->name,
            a1.errors + a2.errors, BK_BW_MAX_PCT);
  return rc == 0 ? a1.errors + a2.errors : rc;
}

/* --shape NAME: only that shape; an unknown name is an error naming it. */
static int bk_parse_shape(bk_opts_t *o, const char *name) {
  int found = 0;
  for (int k = 0; k < 3; k++) {
    o->shape_on[k] = strcmp(name, bk_shapes[k].name) == 0;
    found |= o->shape_on[k];
  }
  if (!found) fprintf(stderr, "bench kernels: unknown shape '%s' (llama7b, mistral7b, smollm2)\n", name);
  return found ? 0 : -1;
}

/* Options given explicitly, which --quick leaves alone whatever the order. */
enum { BK_GIVEN_REPS = 1, BK_GIVEN_SHAPE = 2, BK_GIVEN_BATCH = 4 };

/* One option at argv[*i] (advancing *i past its value); 0, or -1 when unknown, incomplete or out of range. */
static int bk_parse_one(bk_opts_t *o, int argc, char **argv, int *i, unsigned *given) {
  const char *a = argv[*i], *v;
  int bad = 0;
  sw_err_t err;
  if (strcmp(a, "--quick") == 0) return o->quick = 1, 0;
  if (strcmp(a, "--mask-only") == 0) return o->mask_only = 1, 0;
  if (strcmp(a, "--no-bf16") == 0) return o->bf16 = 0, 0;
  if (strcmp(a, "--no-threads") == 0) return o->threads2 = 0, 0;
  if (strcmp(a, "--no-warm") == 0) return o->warm = 0, 0;
  if ((v = sw_cli_opt_value(argc, argv, i, "--reps", &bad)))
    return *given |= BK_GIVEN_REPS, sw_cli_parse_int(v, 1, BK_MAX_REPS, &o->reps);
  if ((v = sw_cli_opt_value(argc, argv, i, "--shape", &bad))) return *given |= BK_GIVEN_SHAPE, bk_parse_shape(o, v);
  if ((v = sw_cli_opt_value(argc, argv, i, "--batch", &bad))) {
    *given |= BK_GIVEN_BATCH;
    o->n_batches = 1;
    return sw_cli_parse_int(v, 1, 4096, &o->batches[0]);
  }
  if ((v = sw_cli_opt_value(argc, argv, i, "--isa", &bad))) {
    if (sw_isa_parse(v, &o->isa, &err) == SW_OK) return 0;
    fprintf(stderr, "bench kernels: --isa: %s\n", err.msg);
  }
  return -1;
}

/* --quick: reps 5, cold only, llama7b and smollm2 at batch 1 and 16; explicit --reps/--shape/--batch are kept. */
static void bk_apply_quick(bk_opts_t *o, unsigned given) {
  o->warm = 0;
  if (!(given & BK_GIVEN_REPS)) o->reps = 5;
  if (!(given & BK_GIVEN_SHAPE)) o->shape_on[1] = 0;
  if (!(given & BK_GIVEN_BATCH)) o->n_batches = 2;
}

static int bk_parse(bk_opts_t *o, int argc, char **argv) {
  memset(o, 0, sizeof *o);
  o->reps = 7, o->bf16 = 1, o->threads2 = 1, o->warm = 1, o->isa = SW_ISA_AUTO;
  o->shape_on[0] = o->shape_on[1] = o->shape_on[2] = 1;
  int bl[] = {1, 16, 64};
  memcpy(o->batches, bl, sizeof bl);
  o->n_batches = 3;
  unsigned given = 0;
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (bk_parse_one(o, argc, argv, &i, &given) != 0) {
      fprintf(stderr, "bench kernels: bad or incomplete option '%s'\n", opt);
      return -1;
    }
  }
  if (o->quick) bk_apply_quick(o, given);
  return 0;
}

int cmd_bench_kernels(int argc, char **argv) {
  bk_opts_t o;
  if (sw_cli_wants_help(argc, argv) || bk_parse(&o, argc, argv) != 0) {
    int help = sw_cli_wants_help(argc, argv);
    fprintf(help ? stdout : stderr,
            "usage: sparsweep bench kernels [--quick] [--shape llama7b|mistral7b|smollm2] [--batch N] [--reps N]\n"
            "                               [--mask-only] [--no-bf16] [--no-threads] [--no-warm]\n"
            "                               [--isa auto|portable|avx2|avx512]\n"
            "  Dense OpenBLAS vs sparse FFN (gated SiLU, f32), interleaved A B pairs, speedup = median pair ratio.\n"
            "  methods: mask = given random mask, gathered kernel; cats/chess = threshold on the computed gate\n"
            "  (selection included, ideal 3/(1+2(1-s))); topk = oracle on full h (ideal 3/(2+(1-s))).\n"
            "  cett: the s column is the CETT target tau (0.05, 0.1, 0.2), s_ach the resulting sparsity.\n"
            "  bf16 rows compare bf16 weights with the f32 OpenBLAS dense baseline (ideal 2, resp. 2/(1-s)).\n"
            "  --quick: llama7b and smollm2, batch 1 and 16, reps 5, cold only, fewer rows (about 30 s); an\n"
            "  explicit --shape, --batch or --reps keeps its value, in any order.\n"
            "  --mask-only: only the mask rows (no selection policies), e.g. with --shape llama7b --batch 1.\n"
            "  --isa: SIMD variant of the sparse kernels (default auto: $SPARSWEEP_KERNEL_ISA, else the best this\n"
            "  CPU runs); batch-1 mask rows are repeated as mask@VARIANT in every other variant the CPU runs.\n"
            "  %%bw above 105%% of the read-bandwidth anchor is refused as a wrong anchor (exit 1).\n"
            "  MoE-converted FFNs (expert top-k, dynamic-k) are benchmarked by `sparsweep bench moe`.\n");
    return help ? SW_EXIT_OK : SW_EXIT_USAGE;
  }
  sw_err_t err;
  if (sw_isa_resolve(o.isa, &o.isa, &err) != SW_OK) {
    fprintf(stderr, "bench kernels: %s\n", err.msg);
    return SW_EXIT_USAGE;
  }
  openblas_set_num_threads(1);
  printf("# sparsweep bench kernels: kernel variant %s (best on this CPU: %s), OpenBLAS core %s, reps %d, cold span "
         "%zu MiB; shared noisy VM, compare within this run only\n",
         sw_isa_name(o.isa), sw_isa_name(sw_isa_best()), openblas_get_corename(), o.reps, BK_COLD_BYTES >> 20);
  bk_print_header();
  int refused = 0;
  for (int k = 0; k < 3; k++) {
    if (!o.shape_on[k]) continue;
    int rc = bk_run_shape(&bk_shapes[k], &o);
    if (rc < 0) {
      fprintf(stderr, "bench kernels: failed on %s\n", bk_shapes[k].name);
      return SW_EXIT_FAIL;
    }
    refused += rc;
  }
  return refused ? SW_EXIT_FAIL : SW_EXIT_OK; /* a wrong anchor makes every %bw of the run suspect */
}
