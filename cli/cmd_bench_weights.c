/* `sparsweep bench weights`: weight-sparse kernels (kernels/sw_wsparse.h) against OpenBLAS dense in the same run
 * (sgemv at batch 1, sgemm above), on the up projection of the Llama-7B and SmolLM2-135M FFNs (d_ff x d_model),
 * at weight sparsity ws x activation sparsity as x batch, cold and warm.  Dense and sparse calls are interleaved
 * A B A B; the speedup is the median of per-pair ratios.  Cold = every call uses the next of several copies
 * spanning > 128 MiB (4x the 32 MiB L3); warm = one copy.  ideal = dense bytes / sparse bytes read (index
 * bytes included), so /ideal = 1 means the sparse kernel moves its bytes as fast as OpenBLAS moves the dense
 * ones.  Random unstructured patterns (magnitude pruning of random weights is a random pattern).  Activation
 * sparsity (random inputs set to zero) is used at batch 1 only: at batch 16 the union of 16 tokens' active
 * inputs at as = 0.5 is 1 - 0.5^16 of them, so an input-sparse batch kernel would read every column.
 * SDDMM rows: attention scores Q Kᵀ (seq x seq, head dim 64/128) at a random mask vs the dense sgemm. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sw_cli.h"
#include "common/sw_stats.h"
#include "common/sw_time.h"
#include "kernels/sw_gemv_sparse.h"
#include "kernels/sw_wsparse.h"
#include "models/sw_eval.h"
#include "models/sw_llama.h"

int cmd_bench_weights(int argc, char **argv);

#define BW_COLD_BYTES ((size_t)128 << 20)
#define BW_MAX_REPS 64
#define BW_MAX_WS 8
#define BW_MAX_BATCH 4
#define BW_ACT_SETS 8 /* activation patterns rotated, so that no call re-reads the previous call's columns */
#define BW_CSC_BLOCK 4096 /* 16 KiB of y per block: the scatter stays in the 32 KiB L1 */

typedef struct bw_shape {
  const char *name;
  int         rows, cols; /* d_ff x d_model: y = W x */
} bw_shape_t;

static const bw_shape_t bw_shapes[] = {{"llama7b", 11008, 4096}, {"smollm2", 1536, 576}};

typedef struct bw_opts {
  int         quick, reps, warm, sddmm, shape_on[2];
  const char *model; /* --model: also report the weight energy 8x1-block pruning removes on this model */
  int      batches[BW_MAX_BATCH], n_batches;
  double   ws[BW_MAX_WS];
  int      n_ws;
  sw_isa_t isa;
  int      prefetch_nnz; /* --prefetch: the CSR/bitmap SpMV prefetch distance (kernels/sw_wsparse.h) */
} bw_opts_t;

typedef enum bw_op {
  BW_DENSE,
  BW_CSR,
  BW_BITMAP,
  BW_NM24,
  BW_BLK8,
  BW_ACT,
  BW_SPMSPV,
  BW_SPMSPV8,
  BW_SPMM,
  BW_N_OPS
} bw_op_t;

static const char *const bw_op_names[BW_N_OPS] = {"dense",    "csr",    "bitmap",  "2:4", "blk8",
                                                  "act-only", "spmspv", "spmspv8", "spmm"};

/* Rotated copies of one shape's operands at one weight sparsity, and the per-batch buffers. */
typedef struct bw_ctx {
  const bw_shape_t *sh;
  sw_wsparse_ctx_t  ws;
  float           **dense; /* rows x cols; read as Wᵀ (cols x rows) by the activation-only kernel */
  sw_csr_t         *csr;
  sw_csc_blocked_t *csc; /* blocks of BW_CSC_BLOCK outputs */
  sw_bitmap_t      *bm;
  sw_blk8_t        *b8r, *b8c; /* 8x1 blocks of a block-pruned pattern: row-major (SpMV), column-major (spMspV) */
  sw_nm24_t        *nm;
  int               n_dense, n_sparse, n_nm, warm, next[BW_N_OPS];
  float            *x, *xs, *y, *scratch; /* xs: BW_ACT_SETS inputs with the inactive entries zero */
  int32_t          *act;                  /* BW_ACT_SETS x cols active indices */
  int               n_act[BW_ACT_SETS], n_tok, act_next;
} bw_ctx_t;

typedef struct bw_result {
  double ta, tb, ratio, bytes_a, bytes_b;
} bw_result_t;

static double bw_uniform(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(*s >> 11) / 9007199254740992.0;
}

/* Index of the copy op uses next (always 0 when warm). */
static int bw_pick(bw_ctx_t *c, bw_op_t op, int n) {
  if (c->warm || n <= 1) return 0;
  int k = c->next[op];
  c->next[op] = (k + 1) % n;
  return k;
}

static void bw_dense_call(bw_ctx_t *c, const float *w, sw_ffn_stats_t *st) {
  const int rows = c->sh->rows, cols = c->sh->cols;
  if (c->n_tok == 1) cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, cols, 1.0f, w, cols, c->x, 1, 0.0f, c->y, 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->n_tok, rows, cols, 1.0f, c->x, cols, w, cols, 0.0f,
                c->y, rows);
  st->weight_bytes = 4.0 * rows * cols;
}

#define XS(c) ((c)->xs + (size_t)(c)->act_next * (c)->sh->cols)
#define ACT(c) ((c)->act + (size_t)(c)->act_next * (c)->sh->cols)

/* One timed call of op; st->weight_bytes gets the bytes of the weight it read. */
static double bw_call(bw_ctx_t *c, bw_op_t op, sw_ffn_stats_t *st) {
  memset(st, 0, sizeof *st);
  int64_t t0 = sw_now_ns();
  switch (op) {
  case BW_DENSE: bw_dense_call(c, c->dense[bw_pick(c, op, c->n_dense)], st); break;
  case BW_CSR: sw_spmv_csr(&c->ws, c->y, &c->csr[bw_pick(c, op, c->n_sparse)], c->x, st); break;
  case BW_BITMAP: sw_spmv_bitmap(&c->ws, c->y, &c->bm[bw_pick(c, op, c->n_sparse)], c->x, st); break;
  case BW_NM24: sw_spmv_nm24(&c->ws, c->y, &c->nm[bw_pick(c, op, c->n_nm)], c->x, st); break;
  case BW_BLK8: sw_spmv_blk8(&c->ws, c->y, &c->b8r[bw_pick(c, op, c->n_sparse)], c->x, st); break;
  case BW_SPMSPV8:
    sw_spmspv_blk8(&c->ws, c->y, &c->b8c[bw_pick(c, op, c->n_sparse)], XS(c), ACT(c), c->n_act[c->act_next], st);
    c->act_next = (c->act_next + 1) % BW_ACT_SETS;
    break;
  case BW_ACT:
    sw_gemv_in_sparse_idx(c->y, c->dense[bw_pick(c, op, c->n_dense)], (size_t)c->sh->rows, SW_DTYPE_F32, XS(c),
                          ACT(c), c->n_act[c->act_next], c->sh->rows, c->ws.isa);
    st->weight_bytes = 4.0 * c->n_act[c->act_next] * c->sh->rows;
    c->act_next = (c->act_next + 1) % BW_ACT_SETS;
    break;
  case BW_SPMSPV:
    sw_spmspv_csc_blocked(&c->ws, c->y, &c->csc[bw_pick(c, op, c->n_sparse)], XS(c), ACT(c), c->n_act[c->act_next],
                          st);
    c->act_next = (c->act_next + 1) % BW_ACT_SETS;
    break;
  case BW_SPMM:
    sw_spmm_csr(&c->ws, c->y, &c->csr[bw_pick(c, op, c->n_sparse)], c->x, c->n_tok, c->scratch, st);
    break;
  default: break;
  }
  return (double)(sw_now_ns() - t0) * 1e-9;
}

/* Interleaved A B pairs after one warm-up pair: medians of each side and of the per-pair ratios tA/tB. */
static bw_result_t bw_pairs(bw_ctx_t *c, bw_op_t a, bw_op_t b, int reps) {
  double         ta[BW_MAX_REPS], tb[BW_MAX_REPS], r[BW_MAX_REPS];
  sw_ffn_stats_t sa, sb;
  bw_call(c, a, &sa);
  bw_call(c, b, &sb);
  for (int i = 0; i < reps; i++) {
    ta[i] = bw_call(c, a, &sa);
    tb[i] = bw_call(c, b, &sb);
    r[i] = ta[i] / tb[i];
  }
  bw_result_t res = {sw_median(ta, (size_t)reps), sw_median(tb, (size_t)reps),
                     sw_median(r, (size_t)reps), sa.weight_bytes, sb.weight_bytes};
  return res;
}

static void bw_print_header(void) {
  printf("%-8s %5s %-5s %-8s %5s %5s %9s %9s %7s %6s %6s %7s %7s\n", "shape", "batch", "cache", "kernel", "ws", "as",
         "dense_ms", "sparse_ms", "speedup", "ideal", "/ideal", "GB/s", "dGB/s");
}

static double bw_print_row(const bw_ctx_t *c, const char *cache, bw_op_t op, double ws, double as, bw_result_t r) {
  double ideal = r.bytes_a / r.bytes_b;
  printf("%-8s %5d %-5s %-8s %5.2f %5.2f %9.3f %9.3f %7.2f %6.2f %6.2f %7.1f %7.1f\n", c->sh->name, c->n_tok, cache,
         bw_op_names[op], ws, as, r.ta * 1e3, r.tb * 1e3, r.ratio, ideal, r.ratio / ideal, r.bytes_b / r.tb * 1e-9,
         r.bytes_a / r.ta * 1e-9);
  fflush(stdout);
  return r.ratio;
}

static int bw_copies(const bw_ctx_t *c, double bytes) {
  return c->warm ? 1 : (int)ceil((double)BW_COLD_BYTES / bytes);
}

static void bw_free_sparse(bw_ctx_t *c) {
  for (int k = 0; k < c->n_sparse; k++) {
    sw_csr_free(&c->csr[k]), sw_csc_blocked_free(&c->csc[k]), sw_bitmap_free(&c->bm[k]);
    sw_blk8_free(&c->b8r[k]), sw_blk8_free(&c->b8c[k]);
  }
  free(c->csr), free(c->csc), free(c->bm), free(c->b8r), free(c->b8c);
  c->csr = NULL, c->csc = NULL, c->bm = NULL, c->b8r = NULL, c->b8c = NULL, c->n_sparse = 0;
}

/* Fraction of the 8x1 blocks (8 rows of one column) of p with no non-zero. */
static double bw_empty_blk8(const float *p, int rows, int cols) {
  size_t empty = 0;
  for (int g = 0; g + 8 <= rows; g += 8)
    for (int col = 0; col < cols; col++) {
      int any = 0;
      for (int i = 0; i < 8; i++) any |= p[(size_t)(g + i) * cols + col] != 0.0f;
      empty += !any;
    }
  return (double)empty / ((double)(rows / 8) * cols);
}

/* p = dense weights with each weight (blk8 = 0) or each 8x1 block (blk8 = 1) kept with probability 1 - ws. */
static void bw_pattern(const bw_ctx_t *c, float *p, double ws, int blk8) {
  const int rows = c->sh->rows, cols = c->sh->cols;
  uint64_t  s = 991 + (uint64_t)(ws * 1000) + 7919u * (uint64_t)blk8;
  for (int r = 0; r < rows; r += blk8 ? 8 : 1)
    for (int col = 0; col < cols; col++) {
      int keep = bw_uniform(&s) >= ws;
      for (int i = 0; i < (blk8 ? 8 : 1) && r + i < rows; i++) {
        size_t e = (size_t)(r + i) * cols + col;
        p[e] = keep ? c->dense[0][e] : 0.0f;
      }
    }
}

/* Random patterns at ws: unstructured (n copies of CSR, CSC, bitmap) and 8x1-block (n copies row/column-major). */
static int bw_build_sparse(bw_ctx_t *c, double ws) {
  const int rows = c->sh->rows, cols = c->sh->cols;
  size_t    n = (size_t)rows * cols;
  float    *p = malloc(n * sizeof *p), *pb = malloc(n * sizeof *pb);
  if (!p || !pb) return free(p), free(pb), -1;
  bw_pattern(c, p, ws, 0), bw_pattern(c, pb, ws, 1);
  printf("# %s ws %.2f: unstructured pattern leaves %.1f%% of its 8x1 blocks empty (blk8 rows use a block-pruned "
         "pattern)\n", c->sh->name, ws, 100.0 * bw_empty_blk8(p, rows, cols));
  sw_err_t err;
  int      ncopy = bw_copies(c, 6.0 * (1.0 - ws) * (double)n);
  c->csr = calloc((size_t)ncopy, sizeof *c->csr), c->csc = calloc((size_t)ncopy, sizeof *c->csc);
  c->bm = calloc((size_t)ncopy, sizeof *c->bm);
  c->b8r = calloc((size_t)ncopy, sizeof *c->b8r), c->b8c = calloc((size_t)ncopy, sizeof *c->b8c);
  int bad = !c->csr || !c->csc || !c->bm || !c->b8r || !c->b8c;
  for (int k = 0; k < ncopy && !bad; k++, c->n_sparse = k)
    bad = sw_csr_from_dense(&c->csr[k], p, rows, cols, (size_t)cols, &err) ||
          sw_csc_blocked_from_dense(&c->csc[k], p, rows, cols, (size_t)cols, BW_CSC_BLOCK, &err) ||
          sw_bitmap_from_dense(&c->bm[k], p, rows, cols, (size_t)cols, &err) ||
          sw_blk8_from_dense(&c->b8r[k], pb, rows, cols, (size_t)cols, 0, &err) ||
          sw_blk8_from_dense(&c->b8c[k], pb, rows, cols, (size_t)cols, 1, &err);
  free(p), free(pb);
  if (bad) fprintf(stderr, "bench weights: %s\n", err.msg);
  return bad ? -1 : 0;
}

static void bw_free_dense(bw_ctx_t *c) {
  for (int k = 0; k < c->n_dense; k++) free(c->dense[k]);
  for (int k = 0; k < c->n_nm; k++) sw_nm24_free(&c->nm[k]);
  free(c->dense), free(c->nm);
  c->dense = NULL, c->nm = NULL, c->n_dense = c->n_nm = 0;
}

/* Dense copies (same random values, Llama init scale 1/sqrt(cols)) and their 2:4 (magnitude) copies. */
static int bw_build_dense(bw_ctx_t *c) {
  const size_t n = (size_t)c->sh->rows * c->sh->cols;
  int          nd = bw_copies(c, 4.0 * (double)n), nn = bw_copies(c, 2.125 * (double)n);
  c->dense = calloc((size_t)nd, sizeof *c->dense), c->nm = calloc((size_t)nn, sizeof *c->nm);
  if (!c->dense || !c->nm) return -1;
  uint64_t s = 7;
  float    scale = 1.0f / sqrtf((float)c->sh->cols);
  for (int k = 0; k < nd; k++, c->n_dense = k) {
    if (!(c->dense[k] = malloc(n * sizeof(float)))) return -1;
    if (k) memcpy(c->dense[k], c->dense[0], n * sizeof(float));
    else
      for (size_t i = 0; i < n; i++) c->dense[0][i] = (float)(bw_uniform(&s) * 2.0 - 1.0) * scale;
  }
  sw_err_t err;
  for (int k = 0; k < nn; k++, c->n_nm = k)
    if (sw_nm24_from_dense(&c->nm[k], c->dense[0], c->sh->rows, c->sh->cols, (size_t)c->sh->cols, &err)) return -1;
  return 0;
}

/* Inputs for n_tok tokens, and BW_ACT_SETS random sets of active inputs at activation sparsity as. */
static int bw_setup_batch(bw_ctx_t *c, int n_tok, double as) {
  const int rows = c->sh->rows, cols = c->sh->cols;
  free(c->x), free(c->xs), free(c->y), free(c->scratch), free(c->act);
  c->n_tok = n_tok;
  c->x = malloc((size_t)n_tok * cols * sizeof(float)), c->xs = malloc((size_t)BW_ACT_SETS * cols * sizeof(float));
  c->y = malloc((size_t)n_tok * rows * sizeof(float)), c->act = malloc((size_t)BW_ACT_SETS * cols * sizeof(int32_t));
  c->scratch = malloc(((size_t)rows + cols) * (size_t)(n_tok + 7) * sizeof(float));
  if (!c->x || !c->xs || !c->y || !c->act || !c->scratch) return -1;
  uint64_t s = 3;
  for (size_t i = 0; i < (size_t)n_tok * cols; i++) c->x[i] = (float)(bw_uniform(&s) * 2.0 - 1.0);
  for (int a = 0; a < BW_ACT_SETS; a++) {
    float   *xs = c->xs + (size_t)a * cols;
    int32_t *act = c->act + (size_t)a * cols;
    c->n_act[a] = 0;
    for (int j = 0; j < cols; j++) {
      int on = bw_uniform(&s) >= as;
      xs[j] = on ? c->x[j] : 0.0f;
      if (on) act[c->n_act[a]++] = j;
    }
  }
  c->act_next = 0;
  return 0;
}

/* Linear interpolation of the weight sparsity where the speedup first reaches 1 (NAN: never; ws[0]: at once). */
static double bw_break_even(const double *ws, const double *ratio, int n) {
  for (int i = 0; i < n; i++) {
    if (ratio[i] < 1.0) continue;
    if (i == 0) return ws[0];
    return ws[i - 1] + (ws[i] - ws[i - 1]) * (1.0 - ratio[i - 1]) / (ratio[i] - ratio[i - 1]);
  }
  return NAN;
}

static void bw_print_break_even(const bw_ctx_t *c, const char *cache, const char *kernel, const double *ws,
                                const double *ratio, int n) {
  double be = bw_break_even(ws, ratio, n);
  printf("# break-even %-8s batch %2d %-5s %-6s: ", c->sh->name, c->n_tok, cache, kernel);
  if (isnan(be)) printf("slower than dense at every ws up to %.2f\n", ws[n - 1]);
  else if (be == ws[0]) printf("<= %.2f (already faster at the lowest ws measured)\n", ws[0]);
  else printf("ws = %.2f\n", be);
}

static const double bw_act_levels[] = {0.5, 0.8};

/* Speedups over dense at batch 1 per ws, for the break-even lines. */
typedef struct bw_b1_ratios {
  double csr[BW_MAX_WS], bitmap[BW_MAX_WS], blk8[BW_MAX_WS];
} bw_b1_ratios_t;

/* The combined kernel against each single-sparsity kernel, interleaved in pairs (speedup = t_single / t_combined). */
static void bw_print_direct(bw_ctx_t *c, const bw_opts_t *o, const char *cache, double ws, double as, bw_op_t comb,
                            bw_op_t act_only, bw_op_t weight_only) {
  double ra = bw_pairs(c, act_only, comb, o->reps).ratio, rw = bw_pairs(c, weight_only, comb, o->reps).ratio;
  printf("# direct %-8s %-5s ws %.2f as %.2f: %s is %.2fx %s and %.2fx %s (same run, interleaved)\n", c->sh->name,
         cache, ws, as, bw_op_names[comb], ra, bw_op_names[act_only], rw, bw_op_names[weight_only]);
}

/* Rows [0, n) of copy 0 of a batch-1 format as a view (same arrays, fewer rows): the largest n whose bytes fit
 * in budget.  The in-cache bound runs the kernel on it. */
typedef union bw_view {
  sw_csr_t    csr;
  sw_bitmap_t bm;
  sw_blk8_t   b8;
} bw_view_t;

static double bw_view_rows(bw_view_t *v, const bw_ctx_t *c, bw_op_t op, int n) {
  switch (op) {
  case BW_CSR: v->csr = c->csr[0], v->csr.rows = n, v->csr.nnz = c->csr[0].row_ptr[n]; return sw_csr_bytes(&v->csr);
  case BW_BITMAP: v->bm = c->bm[0], v->bm.rows = n, v->bm.nnz = c->bm[0].row_off[n]; return sw_bitmap_bytes(&v->bm);
  default:
    v->b8 = c->b8r[0], v->b8.n_outer = n, v->b8.rows = 8 * n < c->b8r[0].rows ? 8 * n : c->b8r[0].rows;
    v->b8.n_blocks = c->b8r[0].ptr[n];
    return sw_blk8_bytes(&v->b8);
  }
}

static double bw_view_fit(bw_view_t *v, const bw_ctx_t *c, bw_op_t op, double budget) {
  const int outer = op == BW_BLK8 ? c->b8r[0].n_outer : c->sh->rows;
  int       n = 1;
  while (n < outer && bw_view_rows(v, c, op, n + 1) <= budget) n++;
  return bw_view_rows(v, c, op, n);
}

static void bw_view_call(bw_ctx_t *c, bw_op_t op, const bw_view_t *v) {
  if (op == BW_CSR) sw_spmv_csr(&c->ws, c->y, &v->csr, c->x, NULL);
  else if (op == BW_BITMAP) sw_spmv_bitmap(&c->ws, c->y, &v->bm, c->x, NULL);
  else sw_spmv_blk8(&c->ws, c->y, &v->b8, c->x, NULL);
}

#define BW_INCACHE_BYTES (128.0 * 1024) /* in L2 on every current x86 and Arm server core */
#define BW_INCACHE_CALLS 64

/* The in-L2 rate of op against dense sgemv from DRAM, in interleaved pairs: one cold sgemv call (the next dense
 * copy), then BW_INCACHE_CALLS calls of op on a slice of its matrix held in L2; medians of each side's GB/s and
 * of the per-pair ratios. */
typedef struct bw_bound {
  double gbs, dense_gbs, ratio;
} bw_bound_t;

static bw_bound_t bw_incache(bw_ctx_t *c, bw_op_t op, int reps) {
  bw_view_t      v;
  const double   bytes = bw_view_fit(&v, c, op, BW_INCACHE_BYTES);
  double         gs[BW_MAX_REPS], gd[BW_MAX_REPS], r[BW_MAX_REPS];
  sw_ffn_stats_t st;
  bw_view_call(c, op, &v);
  for (int i = 0; i < reps; i++) {
    gd[i] = 4.0 * c->sh->rows * (double)c->sh->cols / bw_call(c, BW_DENSE, &st) * 1e-9;
    int64_t t0 = sw_now_ns();
    for (int k = 0; k < BW_INCACHE_CALLS; k++) bw_view_call(c, op, &v);
    gs[i] = bytes * BW_INCACHE_CALLS / ((double)(sw_now_ns() - t0) * 1e-9) * 1e-9;
    r[i] = gs[i] / gd[i];
  }
  bw_bound_t b = {sw_median(gs, (size_t)reps), sw_median(gd, (size_t)reps), sw_median(r, (size_t)reps)};
  return b;
}

/* Why a cold SpMV row stops below /ideal = 1: the in-L2 rate of its kernel over dense sgemv's DRAM rate is about
 * the highest /ideal the kernel can reach on this core, however well its loads are hidden.  Below 1 the kernel
 * is bound by its instructions (one x load per non-zero for CSR, a permutation per 8 columns for the bitmap), not
 * by the bytes it reads (docs/measurement.md, "Instruction-bound or memory-bound"). */
static void bw_print_bound(bw_ctx_t *c, const bw_opts_t *o, double ws, bw_op_t op, bw_result_t cold) {
  const bw_bound_t b = bw_incache(c, op, o->reps);
  printf("# bound %-8s ws %.2f %-6s: %.1f GB/s with its matrix in L2, %.2f of dense sgemv from DRAM (%.1f GB/s, "
         "interleaved; cold /ideal %.2f): %s\n",
         c->sh->name, ws, bw_op_names[op], b.gbs, b.ratio, b.dense_gbs, cold.ratio / (cold.bytes_a / cold.bytes_b),
         b.ratio < 1.0 ? "instruction-bound, the cold /ideal stays near or below the in-L2 ratio on this core"
                       : "memory-bound, the cold /ideal is limited by how well its loads are hidden");
}

/* Batch-1 rows at one ws (index w): CSR, bitmap, 8x1 blocks, and per activation sparsity activation-only and
 * spMspV (unstructured CSC and 8x1 blocks), each spMspV also against its act-only and weight-only kernels. */
static int bw_rows_b1(bw_ctx_t *c, const bw_opts_t *o, const char *cache, int w, bw_b1_ratios_t *r) {
  const double ws = o->ws[w];
  if (bw_setup_batch(c, 1, 0.0)) return -1;
  const bw_op_t spmv[3] = {BW_CSR, BW_BITMAP, BW_BLK8};
  double       *ratio[3] = {&r->csr[w], &r->bitmap[w], &r->blk8[w]};
  bw_result_t   res[3];
  for (int k = 0; k < 3; k++) {
    res[k] = bw_pairs(c, BW_DENSE, spmv[k], o->reps);
    *ratio[k] = bw_print_row(c, cache, spmv[k], ws, 0.0, res[k]);
  }
  for (int k = 0; k < 3 && !c->warm; k++) bw_print_bound(c, o, ws, spmv[k], res[k]);
  if (fabs(ws - 0.5) < 1e-9) bw_print_row(c, cache, BW_NM24, 0.5, 0.0, bw_pairs(c, BW_DENSE, BW_NM24, o->reps));
  for (size_t a = 0; a < sizeof bw_act_levels / sizeof bw_act_levels[0]; a++) {
    if (o->quick && a > 0) break;
    const double as = bw_act_levels[a];
    if (bw_setup_batch(c, 1, as)) return -1;
    bw_print_row(c, cache, BW_ACT, 0.0, as, bw_pairs(c, BW_DENSE, BW_ACT, o->reps));
    bw_print_row(c, cache, BW_SPMSPV, ws, as, bw_pairs(c, BW_DENSE, BW_SPMSPV, o->reps));
    bw_print_row(c, cache, BW_SPMSPV8, ws, as, bw_pairs(c, BW_DENSE, BW_SPMSPV8, o->reps));
    bw_print_direct(c, o, cache, ws, as, BW_SPMSPV, BW_ACT, BW_CSR);
    bw_print_direct(c, o, cache, ws, as, BW_SPMSPV8, BW_ACT, BW_BLK8);
  }
  return 0;
}

/* One shape in one cache mode: every ws, every batch; break-even per batch from the ws sweep. */
static int bw_run_mode(bw_ctx_t *c, const bw_opts_t *o, int warm) {
  const char    *cache = warm ? "warm" : "cold";
  double         r[BW_MAX_BATCH][BW_MAX_WS];
  bw_b1_ratios_t r1;
  c->warm = warm;
  if (bw_build_dense(c)) return -1;
  for (int w = 0; w < o->n_ws; w++) {
    if (bw_build_sparse(c, o->ws[w])) return -1;
    for (int b = 0; b < o->n_batches; b++) {
      int nt = o->batches[b];
      if (nt == 1 && bw_rows_b1(c, o, cache, w, &r1)) return -1;
      if (nt == 1) r[b][w] = r1.csr[w];
      if (nt > 1 && bw_setup_batch(c, nt, 0.0)) return -1;
      if (nt > 1) r[b][w] = bw_print_row(c, cache, BW_SPMM, o->ws[w], 0.0, bw_pairs(c, BW_DENSE, BW_SPMM, o->reps));
    }
    bw_free_sparse(c);
  }
  bw_free_dense(c);
  for (int b = 0; b < o->n_batches; b++) {
    c->n_tok = o->batches[b];
    bw_print_break_even(c, cache, c->n_tok == 1 ? "csr" : "spmm", o->ws, r[b], o->n_ws);
    if (c->n_tok > 1) continue;
    bw_print_break_even(c, cache, "bitmap", o->ws, r1.bitmap, o->n_ws);
    bw_print_break_even(c, cache, "blk8", o->ws, r1.blk8, o->n_ws);
  }
  return 0;
}

/* SDDMM: scores of seq queries against seq keys (head dim k) at a random mask vs the dense sgemm Q Kᵀ (warm). */
static void bw_run_sddmm(const bw_opts_t *o, sw_wsparse_ctx_t *ws) {
  const int    seq = 1024, ks[] = {64, 128};
  const double sp[] = {0.5, 0.7, 0.9};
  float       *q = malloc((size_t)seq * 128 * sizeof(float)), *kk = malloc((size_t)seq * 128 * sizeof(float));
  float       *dense = malloc((size_t)seq * seq * sizeof(float)), *mask = malloc((size_t)seq * seq * sizeof(float));
  float       *out = malloc((size_t)seq * seq * sizeof(float));
  uint64_t     s = 5;
  if (!q || !kk || !dense || !mask || !out) goto done;
  for (int i = 0; i < seq * 128; i++) q[i] = (float)bw_uniform(&s), kk[i] = (float)bw_uniform(&s);
  printf("\n# SDDMM: %d x %d attention scores at a random mask vs dense sgemm Q K^T (warm, 1 thread)\n", seq, seq);
  printf("%-6s %5s %9s %9s %7s %6s\n", "k", "sp", "dense_ms", "sddmm_ms", "speedup", "ideal");
  for (size_t a = 0; a < sizeof ks / sizeof ks[0]; a++)
    for (size_t b = 0; b < sizeof sp / sizeof sp[0]; b++) {
      for (int i = 0; i < seq * seq; i++) mask[i] = bw_uniform(&s) < sp[b] ? 0.0f : 1.0f;
      sw_csr_t pat;
      sw_err_t err;
      if (sw_csr_from_dense(&pat, mask, seq, seq, (size_t)seq, &err)) goto done;
      double td[BW_MAX_REPS], tsp[BW_MAX_REPS], r[BW_MAX_REPS];
      for (int i = -1; i < o->reps; i++) {
        int64_t t0 = sw_now_ns();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, seq, seq, ks[a], 1.0f, q, ks[a], kk, ks[a], 0.0f, dense,
                    seq);
        int64_t t1 = sw_now_ns();
        sw_sddmm_csr(ws, out, &pat, q, kk, ks[a], NULL);
        int64_t t2 = sw_now_ns();
        if (i < 0) continue;
        td[i] = (double)(t1 - t0) * 1e-9, tsp[i] = (double)(t2 - t1) * 1e-9, r[i] = td[i] / tsp[i];
      }
      printf("%-6d %5.2f %9.3f %9.3f %7.2f %6.2f\n", ks[a], sp[b], 1e3 * sw_median(td, o->reps),
             1e3 * sw_median(tsp, o->reps), sw_median(r, o->reps), 1.0 / (1.0 - sp[b]));
      sw_csr_free(&pat);
    }
done:
  free(q), free(kk), free(dense), free(mask), free(out);
}

static int bw_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Fraction of Σ w² that magnitude pruning at sparsity ws removes from w (rows x cols) when the unit pruned is
 * u consecutive rows of one column (u = 1: unstructured; u = 8: the 8x1 blocks of sw_blk8_t, ranked by Σ w²). */
static double bw_energy_removed(const float *w, int rows, int cols, int u, double ws) {
  const size_t n = (size_t)(rows / u) * cols;
  double      *e = malloc(n * sizeof *e), total = 0.0, removed = 0.0;
  if (!e) return NAN;
  for (size_t k = 0; k < n; k++) {
    size_t g = k / (size_t)cols, col = k % (size_t)cols;
    e[k] = 0.0;
    for (int i = 0; i < u; i++) e[k] += (double)w[(g * u + i) * cols + col] * w[(g * u + i) * cols + col];
    total += e[k];
  }
  qsort(e, n, sizeof *e, bw_cmp_double);
  for (size_t k = 0; k < (size_t)(ws * (double)n); k++) removed += e[k];
  free(e);
  return removed / total;
}

/* The accuracy side of 8x1 blocks on a real model: weight energy removed from every layer's ffn_up (mean). */
static int bw_run_block_energy(const bw_opts_t *o) {
  sw_llama_t m;
  sw_err_t   err;
  memset(&m, 0, sizeof m);
  if (sw_llama_load(&m, o->model, &err)) return fprintf(stderr, "sparsweep bench weights: %s\n", err.msg), -1;
  const int    L = m.cfg.n_layer, rows = m.cfg.d_ff, cols = m.cfg.d_model;
  const size_t per = (size_t)rows * cols;
  printf("\n# %s: fraction of sum w^2 removed from ffn_up by magnitude pruning (mean of %d layers)\n", o->model, L);
  printf("%5s %13s %13s\n", "ws", "unstructured", "8x1 blocks");
  for (int k = 0; k < o->n_ws; k++) {
    double u1 = 0.0, u8 = 0.0;
    for (int l = 0; l < L; l++) {
      u1 += bw_energy_removed(m.w.w_up + (size_t)l * per, rows, cols, 1, o->ws[k]) / L;
      u8 += bw_energy_removed(m.w.w_up + (size_t)l * per, rows, cols, 8, o->ws[k]) / L;
    }
    printf("%5.2f %13.4f %13.4f\n", o->ws[k], u1, u8);
  }
  sw_llama_free(&m);
  return 0;
}

/* --ws 0.5,0.7: at most max fractions in [lo, hi]; the count, or -1 (a message names the limit when too long). */
static int bw_parse_list(const char *v, double *out, int max, double lo, double hi) {
  int n = 0;
  for (const char *p = v; p; n++) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char item[64];
    if (n == max) return fprintf(stderr, "sparsweep bench weights: --ws takes at most %d values\n", max), -1;
    if (len == 0 || len >= sizeof item) return -1;
    memcpy(item, p, len);
    item[len] = '\0';
    if (sw_cli_parse_double(item, lo, hi, &out[n]) != 0) return -1;
    p = comma ? comma + 1 : NULL;
  }
  return n;
}

/* --batch 1,16: at most BW_MAX_BATCH whole sizes in 1..1024. */
static int bw_parse_batches(bw_opts_t *o, const char *v) {
  int n = sw_cli_parse_int_list(v, 1, 1024, o->batches, BW_MAX_BATCH);
  if (n == SW_CLI_LIST_TOO_LONG) fprintf(stderr, "sparsweep bench weights: --batch takes at most %d sizes\n", BW_MAX_BATCH);
  if (n < 1) return -1;
  o->n_batches = n;
  return 0;
}

static int bw_parse_shape(bw_opts_t *o, const char *v) {
  for (int k = 0; k < 2; k++) o->shape_on[k] = strcmp(v, bw_shapes[k].name) == 0;
  if (o->shape_on[0] || o->shape_on[1] || strcmp(v, "none") == 0) return 0;
  fprintf(stderr, "sparsweep bench weights: unknown shape '%s' (llama7b, smollm2, none)\n", v);
  return -1;
}

/* Options given explicitly, which --quick leaves alone whatever the order. */
enum { BW_GIVEN_REPS = 1, BW_GIVEN_BATCH = 2, BW_GIVEN_WS = 4 };

/* One option at argv[*i] (advancing *i past its value); 0, or -1 when unknown, incomplete or out of range. */
static int bw_parse_one(bw_opts_t *o, int argc, char **argv, int *i, unsigned *given) {
  const char *a = argv[*i], *v;
  int bad = 0;
  sw_err_t err;
  if (strcmp(a, "--quick") == 0) return o->quick = 1, 0;
  if (strcmp(a, "--no-warm") == 0) return o->warm = 0, 0;
  if (strcmp(a, "--no-sddmm") == 0) return o->sddmm = 0, 0;
  if ((v = sw_cli_opt_value(argc, argv, i, "--reps", &bad)))
    return *given |= BW_GIVEN_REPS, sw_cli_parse_int(v, 1, BW_MAX_REPS, &o->reps);
  if ((v = sw_cli_opt_value(argc, argv, i, "--shape", &bad))) return bw_parse_shape(o, v);
  if ((v = sw_cli_opt_value(argc, argv, i, "--ws", &bad))) {
    *given |= BW_GIVEN_WS;
    return (o->n_ws = bw_parse_list(v, o->ws, BW_MAX_WS, 0.0, 0.99)) < 1 ? -1 : 0;
  }
  if ((v = sw_cli_opt_value(argc, argv, i, "--batch", &bad))) return *given |= BW_GIVEN_BATCH, bw_parse_batches(o, v);
  if ((v = sw_cli_opt_value(argc, argv, i, "--model", &bad))) return o->model = v, 0;
  if ((v = sw_cli_opt_value(argc, argv, i, "--isa", &bad))) return sw_isa_parse(v, &o->isa, &err) ? -1 : 0;
  if ((v = sw_cli_opt_value(argc, argv, i, "--prefetch", &bad)))
    return sw_cli_parse_int(v, 0, (int)SW_WS_PREFETCH_NNZ_MAX, &o->prefetch_nnz);
  return -1;
}

/* --quick: fewer repetitions, ws values and batch sizes, cold only, no SDDMM; only where not given. */
static void bw_apply_quick(bw_opts_t *o, unsigned given) {
  o->warm = 0, o->sddmm = 0;
  if (!(given & BW_GIVEN_REPS)) o->reps = 5;
  if (!(given & BW_GIVEN_BATCH)) o->n_batches = 2;
  if (!(given & BW_GIVEN_WS)) o->ws[0] = 0.5, o->ws[1] = 0.7, o->ws[2] = 0.9, o->n_ws = 3;
}

static int bw_parse(bw_opts_t *o, int argc, char **argv) {
  *o = (bw_opts_t){.reps = 9, .warm = 1, .sddmm = 1, .shape_on = {1, 1}, .batches = {1, 16, 64}, .n_batches = 3,
                   .ws = {0.25, 0.5, 0.7, 0.9}, .n_ws = 4, .isa = SW_ISA_AUTO,
                   .prefetch_nnz = SW_WS_PREFETCH_NNZ_DEFAULT};
  unsigned given = 0;
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    if (bw_parse_one(o, argc, argv, &i, &given) != 0) {
      fprintf(stderr, "sparsweep bench weights: bad or incomplete option '%s'\n", opt);
      return -1;
    }
  }
  if (o->quick) bw_apply_quick(o, given);
  return 0;
}

static void bw_usage(FILE *f) {
  fprintf(f,
          "usage: sparsweep bench weights [--quick] [--shape llama7b|smollm2|none] [--ws 0.25,0.5,0.7,0.9]\n"
          "                               [--batch 1,16,64] [--reps N] [--isa auto|portable|avx2|avx512]\n"
          "                               [--no-warm] [--no-sddmm] [--model PATH] [--prefetch NNZ]\n"
          "  Weight-sparse kernels vs OpenBLAS dense (sgemv at batch 1, sgemm above), 1 thread, interleaved pairs.\n"
          "  batch 1: csr / bitmap SpMV, blk8 (8x1 blocks, block-pruned pattern), 2:4 (at ws 0.5), act-only (dense\n"
          "  W^T, inactive inputs skipped), spmspv (blocked CSC x sparse input) and spmspv8 (column-major 8x1 blocks)\n"
          "  at as = 0.5 and 0.8, each spmspv also against act-only and the weight-only SpMV; batch > 1: CSR SpMM.\n"
          "  ideal = dense bytes / sparse bytes (indices included); /ideal = speedup / ideal.\n"
          "  cold batch 1: a '# bound' line per SpMV kernel, its GB/s on a slice of its matrix in L2 over cold\n"
          "  sgemv's (interleaved): below 1 the kernel is instruction-bound and its cold /ideal stays near it.\n"
          "  --quick: ws 0.5,0.7,0.9, batch 1 and 16, cold only, as = 0.5, no SDDMM, reps 5 (options given explicitly\n"
          "  keep their values, in any order).  --batch takes at most %d sizes, --ws at most %d values.\n"
          "  --model: also the weight energy (sum w^2) magnitude pruning removes from the model's ffn_up at each ws,\n"
          "  unstructured vs 8x1 blocks (the accuracy cost of the blk8 format's pruning granularity).\n"
          "  --prefetch: how far ahead, in non-zeros, the CSR and bitmap SpMV bodies prefetch their values (default\n"
          "  %d, 0 = no software prefetch, at most %u): the best distance depends on the node's memory latency.\n",
          BW_MAX_BATCH, BW_MAX_WS, SW_WS_PREFETCH_NNZ_DEFAULT, SW_WS_PREFETCH_NNZ_MAX);
}

/* The AVX-512 bitmap body the context runs, for the header ("" below AVX-512). */
static const char *bw_bitmap_body(const sw_wsparse_ctx_t *ws) {
  if (ws->isa < SW_ISA_AVX512) return "";
  return ws->bitmap_permute ? " (bitmap: permute)" : " (bitmap: expand)";
}

int cmd_bench_weights(int argc, char **argv) {
  bw_opts_t o;
  if (sw_cli_wants_help(argc, argv)) return bw_usage(stdout), SW_EXIT_OK;
  if (bw_parse(&o, argc, argv)) return bw_usage(stderr), SW_EXIT_USAGE;
  bw_ctx_t c;
  memset(&c, 0, sizeof c);
  sw_err_t err;
  if (sw_wsparse_ctx_init(&c.ws, o.isa, &err)) {
    fprintf(stderr, "sparsweep bench weights: %s\n", err.msg);
    return SW_EXIT_USAGE;
  }
  openblas_set_num_threads(1);
  c.ws.prefetch_nnz = (size_t)o.prefetch_nnz;
  printf("# sparsweep bench weights: kernels %s%s, prefetch %zu nnz, OpenBLAS core %s, 1 thread, reps %d, cold span "
         "%zu MiB; shared noisy VM, compare within this run only\n",
         sw_isa_name(c.ws.isa), bw_bitmap_body(&c.ws), c.ws.prefetch_nnz, openblas_get_corename(), o.reps,
         BW_COLD_BYTES >> 20);
  bw_print_header();
  int rc = 0;
  for (int k = 0; k < 2 && !rc; k++) {
    if (!o.shape_on[k]) continue;
    c.sh = &bw_shapes[k];
    rc = bw_run_mode(&c, &o, 0);
    if (!rc && o.warm && (double)c.sh->rows * c.sh->cols * 4.0 < BW_COLD_BYTES / 8) rc = bw_run_mode(&c, &o, 1);
  }
  if (!rc && o.sddmm) bw_run_sddmm(&o, &c.ws);
  if (!rc && o.model && bw_run_block_energy(&o)) return SW_EXIT_FAIL;
  bw_free_sparse(&c), bw_free_dense(&c);
  free(c.x), free(c.xs), free(c.y), free(c.scratch), free(c.act);
  if (rc) fprintf(stderr, "sparsweep bench weights: out of memory or bad shape\n");
  return rc ? SW_EXIT_FAIL : SW_EXIT_OK;
}
