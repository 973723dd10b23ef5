/* Tests for kernels/sw_quant: the f16 conversion against an exact float64 formula for all 65536 values; the
 * activation quantiser's rounding; every dot-product variant (portable, AVX2, AVX-512; skipped when the CPU
 * lacks it) against a float64 reference of the dequantised block math written here from the block layouts;
 * the GEMM's threads, accumulation and token independence; the row-interleaved copy (kernels/sw_qpack.h) against
 * the same float64 reference, with padded groups, token tiles and threads bit for bit; and products on random and real model tensors
 * against the `gguf` package's dequantiser (fixture from tests/reference/gen_quant_ref.py, SW_QUANT_REF_DIR). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_pool.h"
#include "kernels/sw_qpack.h"
#include "kernels/sw_quant.h"
#include "tests/unit/sw_test_isa.h"
#include "tests/unit/sw_test_util.h"

/* Integer dot + f32 scale per block vs float64 of the same quantised math: f32 rounding of the block scale
 * products and of the running sum, relative to the sum of |terms| (18..48 blocks). */
#define SW_TOL_QDOT_REL 1e-5
#define SW_TOL_QDOT_ABS 1e-6
#define REF_VERSION 1

static const uint32_t k_types[3] = {SW_QTYPE_Q4_0, SW_QTYPE_Q4_1, SW_QTYPE_Q8_0};

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return *s;
}
static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1p-53; }

/* f16 bits of a moderate value (normal, exactly representable) built from sign, exponent and mantissa. */
static uint16_t f16_bits(uint64_t *s, int exp_lo, int exp_hi) {
  int e = exp_lo + (int)(rng_next(s) % (uint64_t)(exp_hi - exp_lo + 1));
  return (uint16_t)((rng_next(s) & 1) << 15 | (uint16_t)e << 10 | (rng_next(s) & 0x3ff));
}

static void random_row(uint8_t *w, uint32_t type, int nb, uint64_t *s) {
  size_t bb = sw_qtype_block_bytes(type);
  for (size_t i = 0; i < bb * (size_t)nb; i++) w[i] = (uint8_t)rng_next(s);
  for (int b = 0; b < nb; b++) {
    uint16_t d = f16_bits(s, 5, 12) & 0x7fff; /* 2^-10 .. 2^-3, positive */
    memcpy(w + bb * b, &d, 2);
    if (type == SW_QTYPE_Q4_1) {
      uint16_t m = f16_bits(s, 8, 13);
      memcpy(w + bb * b + 2, &m, 2);
    }
  }
}

/* float64 value of binary16 bits (independent of the kernel's conversion). */
static double f16_ref(uint16_t h) {
  int e = (h >> 10) & 31, f = h & 0x3ff;
  double v = e == 0 ? ldexp(f, -24) : e == 31 ? (f ? NAN : INFINITY) : ldexp(1024 + f, e - 25);
  return h & 0x8000 ? -v : v;
}

/* Element j of block b of a row, dequantised in float64. */
static double deq_ref(const uint8_t *w, uint32_t type, int b, int j) {
  size_t bb = sw_qtype_block_bytes(type);
  const uint8_t *blk = w + bb * (size_t)b;
  uint16_t dh = (uint16_t)(blk[0] | blk[1] << 8), mh = (uint16_t)(blk[2] | blk[3] << 8);
  if (type == SW_QTYPE_Q8_0) return f16_ref(dh) * (int8_t)blk[2 + j];
  const uint8_t *q = blk + (type == SW_QTYPE_Q4_1 ? 4 : 2);
  int nib = j < 16 ? q[j] & 15 : q[j - 16] >> 4;
  return type == SW_QTYPE_Q4_1 ? f16_ref(dh) * nib + f16_ref(mh) : f16_ref(dh) * (nib - 8);
}

/* float64 dot of the dequantised row with the dequantised activation blocks; *mag = sum of |terms|. */
static double dot_ref(const uint8_t *w, uint32_t type, const sw_q8a_t *a, int nb, double *mag) {
  double sum = 0;
  *mag = 0;
  for (int b = 0; b < nb; b++)
    for (int j = 0; j < SW_QBLOCK; j++) {
      double t = deq_ref(w, type, b, j) * ((double)a[b].d * a[b].qs[j]);
      sum += t;
      *mag += fabs(t);
    }
  return sum;
}

static void random_vec(float *x, int n, uint64_t *s) {
  for (int i = 0; i < n; i++) x[i] = (float)(rng_unit(s) * 4.0 - 2.0);
}

/* A new rows x (nb blocks) random matrix of `type` (row r at r * row bytes); free() it. */
static uint8_t *random_matrix(uint32_t type, int rows, int nb, uint64_t *s) {
  size_t rb = sw_qtype_block_bytes(type) * (size_t)nb;
  uint8_t *w = malloc(rb * (size_t)rows);
  for (int r = 0; r < rows; r++) random_row(w + rb * r, type, nb, s);
  return w;
}

/* Quantises n_tok rows of cols floats into n_tok * cols / 32 activation blocks. */
static void quantize_tokens(sw_q8a_t *a, const float *x, int n_tok, int cols) {
  for (int k = 0; k < n_tok; k++) sw_q8a_quantize(a + (size_t)k * (cols / SW_QBLOCK), x + (size_t)k * cols, cols);
}

static void test_f16_all_values(void **state) {
  (void)state;
  for (uint32_t h = 0; h < 65536; h++) {
    double want = f16_ref((uint16_t)h);
    float got = sw_qf16_to_f32((uint16_t)h);
    if (isnan(want)) assert_true(isnan(got));
    else if ((double)got != want) fail_msg("f16 %04x: got %a want %a", h, (double)got, want);
  }
}

static void test_q8a_rounding(void **state) {
  (void)state;
  uint64_t s = 11;
  float x[128];
  random_vec(x, 128, &s);
  x[5] = 0; /* a zero block must give d = 0 and q = 0 */
  for (int j = 64; j < 96; j++) x[j] = 0;
  sw_q8a_t a[4];
  sw_q8a_quantize(a, x, 128);
  for (int b = 0; b < 4; b++) {
    double amax = 0;
    long sum = 0;
    for (int j = 0; j < 32; j++) amax = fmax(amax, fabs(x[32 * b + j]));
    assert_true(sw_test_close(a[b].d, amax / 127.0, 0, 1e-7));
    for (int j = 0; j < 32; j++) {
      assert_true(abs(a[b].qs[j]) <= 127);
      assert_true(fabs(x[32 * b + j] - (double)a[b].d * a[b].qs[j]) <= a[b].d * 0.5 * (1 + 1e-6) + 1e-30);
      sum += a[b].qs[j];
    }
    assert_true(sw_test_close(a[b].s, (double)a[b].d * sum, 1e-30, 1e-6));
  }
  assert_true(a[2].d == 0 && a[2].s == 0);
}

/* Every quantised value is roundf(x * (127 / amax)) exactly (half away from zero), including exact ties, on
 * whichever body the CPU runs (the AVX2 one rounds by trunc-and-compare). */
static void test_q8a_ties_exact(void **state) {
  (void)state;
  uint64_t s = 23;
  float x[256];
  random_vec(x, 256, &s);
  const float ties[] = {127.0f, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, -1.5f, 126.5f, -126.5f, 0.0f, -0.0f, 3.4999998f};
  for (int j = 0; j < 12; j++) x[j] = ties[j]; /* block 0: amax 127, so x * id = x */
  for (int j = 32; j < 64; j++) x[j] = (float)(j - 48) * 0.25f; /* block 1: many ties after scaling */
  sw_q8a_t a[8];
  sw_q8a_quantize(a, x, 256);
  for (int b = 0; b < 8; b++) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * b + j]));
    float id = amax > 0 ? 127.0f / amax : 0.0f;
    long sum = 0;
    for (int j = 0; j < 32; j++) {
      float want = roundf(x[32 * b + j] * id);
      if (a[b].qs[j] != (int)want) fail_msg("block %d elem %d: %d want %.1f (x %.9g)", b, j, a[b].qs[j], want, x[32 * b + j]);
      sum += a[b].qs[j];
    }
    assert_true(a[b].d == amax / 127.0f && a[b].s == a[b].d * (float)sum);
  }
}

static void check_dot_variant(sw_isa_t isa) {
  uint64_t s = 5 + (uint64_t)isa;
  enum { NB = 48 };
  uint8_t w[NB * 34];
  float x[NB * SW_QBLOCK];
  sw_q8a_t a[NB];
  for (int t = 0; t < 3; t++)
    for (int trial = 0; trial < 20; trial++) {
      int nb = 1 + (int)(rng_next(&s) % NB);
      random_row(w, k_types[t], nb, &s);
      random_vec(x, nb * SW_QBLOCK, &s);
      sw_q8a_quantize(a, x, nb * SW_QBLOCK);
      double mag, want = dot_ref(w, k_types[t], a, nb, &mag);
      float got = sw_qdot(isa, k_types[t], w, a, nb);
      if (fabs(got - want) > SW_TOL_QDOT_ABS + SW_TOL_QDOT_REL * mag)
        fail_msg("%s type %u nb %d: got %.9g want %.9g (mag %g)", sw_isa_name(isa), k_types[t], nb, got, want, mag);
    }
}

static void test_dot(void **state) { check_dot_variant(sw_test_isa(state)); }

/* y = base + W a for ntok tokens through sw_qgemm's accumulate mode, best variant, on a pool of nt threads (none
 * for 1); the context returned holds the pool, which the caller destroys. */
static sw_qctx_t gemm_accumulated(float *y, const float *base, size_t n, const sw_q8a_t *a, const sw_qmat_t *W,
                                  int ntok, int nt) {
  sw_pool_t *pool = NULL;
  if (nt > 1) assert_int_equal(sw_pool_create(&pool, nt, NULL), SW_OK);
  sw_qctx_t ctx = {sw_isa_best(), pool};
  memcpy(y, base, n * sizeof *y);
  sw_qgemm(&ctx, y, a, W, ntok, 1);
  return ctx;
}

/* Threads (1, 2, 3), accumulate, and a token's result independent of the batch it runs in: every value must
 * equal the single-row sw_qdot of the same variant bit for bit. */
static void test_gemm_threads_tokens(void **state) {
  (void)state;
  uint64_t s = 99;
  enum { ROWS = 45, COLS = 160, NTOK = 5, NB = COLS / SW_QBLOCK };
  for (int t = 0; t < 3; t++) {
    size_t rb = sw_qtype_block_bytes(k_types[t]) * NB;
    uint8_t *w = random_matrix(k_types[t], ROWS, NB, &s);
    float x[NTOK * COLS], y[NTOK * ROWS], base[NTOK * ROWS];
    random_vec(x, NTOK * COLS, &s);
    sw_q8a_t a[NTOK * NB];
    quantize_tokens(a, x, NTOK, COLS);
    sw_qmat_t W;
    assert_int_equal(sw_qmat_view(&W, k_types[t], ROWS, COLS, w, "test", NULL), SW_OK);
    for (int i = 0; i < NTOK * ROWS; i++) base[i] = (float)(i % 7) - 3.0f;
    for (int nt = 1; nt <= 3; nt++) {
      sw_qctx_t ctx = gemm_accumulated(y, base, NTOK * ROWS, a, &W, NTOK, nt);
      for (int k = 0; k < NTOK; k++)
        for (int r = 0; r < ROWS; r++)
          assert_true(y[k * ROWS + r] == base[k * ROWS + r] + sw_qdot(ctx.isa, k_types[t], w + rb * r, a + k * NB, NB));
      float one[ROWS];
      sw_qgemm(&ctx, one, a + 3 * NB, &W, 1, 0);
      for (int r = 0; r < ROWS; r++) assert_true(one[r] == sw_qdot(ctx.isa, k_types[t], w + rb * r, a + 3 * NB, NB));
      sw_pool_destroy(ctx.pool);
    }
    free(w);
  }
}

static void test_view_rejects(void **state) {
  (void)state;
  sw_qmat_t W;
  sw_err_t err = {0};
  assert_int_equal(sw_qmat_view(&W, 14 /* q6_k */, 4, 256, NULL, "blk.0.ffn_up.weight", &err), SW_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "blk.0.ffn_up.weight"));
  assert_int_equal(sw_qmat_view(&W, SW_QTYPE_Q8_0, 4, 40, NULL, "x", &err), SW_ERR_INVALID);
}

static uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* One fixture case: quantise x, run every supported variant, compare with the gguf float64 product within
 * the activation-rounding bound plus f32 rounding. */
static size_t check_gguf_case(const uint8_t *p, int *n_checked) {
  uint32_t type = rd32(p), rows = rd32(p + 4), cols = rd32(p + 8);
  size_t rb = sw_qtype_block_bytes(type) * (cols / SW_QBLOCK);
  const uint8_t *w = p + 12;
  float *x = malloc(cols * sizeof *x);
  memcpy(x, w + rb * rows, cols * sizeof *x);
  const uint8_t *yref = w + rb * rows + cols * sizeof(float);
  sw_q8a_t *a = malloc(cols / SW_QBLOCK * sizeof *a);
  sw_q8a_quantize(a, x, (int)cols);
  for (int isa = 0; isa < SW_ISA_COUNT; isa++) {
    if (!sw_isa_supported((sw_isa_t)isa)) continue;
    for (uint32_t r = 0; r < rows; r++) {
      double want, mag;
      memcpy(&want, yref + 8 * r, 8);
      float got = sw_qdot((sw_isa_t)isa, type, w + rb * r, a, (int)(cols / SW_QBLOCK));
      double bound = sw_q8a_error_bound(type, w + rb * r, a, (int)(cols / SW_QBLOCK));
      dot_ref(w + rb * r, type, a, (int)(cols / SW_QBLOCK), &mag);
      if (fabs(got - want) > bound + SW_TOL_QDOT_ABS + SW_TOL_QDOT_REL * mag)
        fail_msg("gguf case type %u row %u (%s): got %.9g want %.9g bound %g", type, r, sw_isa_name((sw_isa_t)isa),
                 got, want, bound);
      (*n_checked)++;
    }
  }
  free(x);
  free(a);
  return 12 + rb * rows + cols * sizeof(float) + rows * sizeof(double);
}

static void test_vs_gguf_package(void **state) {
  (void)state;
  const char *dir = getenv("SW_QUANT_REF_DIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/quant.bin", dir ? dir : ".");
  size_t len;
  uint8_t *buf = (uint8_t *)sw_test_read_file(path, &len);
  if (!buf) fail_msg("cannot read %s (HINT: run tests/reference/gen_quant_ref.py MODEL OUT_DIR)", path);
  assert_true(len >= 12 && memcmp(buf, "SWQG", 4) == 0 && rd32(buf + 4) == REF_VERSION);
  uint32_t n = rd32(buf + 8);
  size_t off = 12;
  int checked = 0, types_seen = 0;
  for (uint32_t c = 0; c < n; c++) {
    assert_true(off + 12 <= len);
    types_seen |= 1 << rd32(buf + off);
    off += check_gguf_case(buf + off, &checked);
    assert_true(off <= len);
  }
  assert_int_equal(off, len);
  assert_true(types_seen == (1 << SW_QTYPE_Q4_0 | 1 << SW_QTYPE_Q4_1 | 1 << SW_QTYPE_Q8_0));
  assert_true(checked > 100);
  free(buf);
}

/* f32 -> f16: every finite f16 value round-trips; halfway cases round to even; overflow gives inf. */
static void test_f32_to_f16(void **state) {
  (void)state;
  for (uint32_t h = 0; h < 65536; h++) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaN payloads */
    assert_int_equal(sw_qf32_to_f16(sw_qf16_to_f32((uint16_t)h)), h);
  }
  assert_int_equal(sw_qf32_to_f16(1.0f + 0x1p-11f), 0x3c00);            /* halfway 1 / 1+2^-10: even is 1 */
  assert_int_equal(sw_qf32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);        /* halfway: even is 1+2^-9 */
  assert_int_equal(sw_qf32_to_f16(70000.0f), 0x7c00);
  assert_int_equal(sw_qf32_to_f16(-0x1p-25f * 3), 0x8002);              /* subnormal 1.5 ulp -> 2 (even) */
}

/* Q8_0 re-quantisation: |x - deq| <= scale/2 per element, scale the f16 of max|x|/127. */
static void test_q8_0_quantize_row(void **state) {
  (void)state;
  uint64_t s = 21;
  float x[96];
  uint8_t q[3 * 34];
  random_vec(x, 96, &s);
  for (int j = 32; j < 64; j++) x[j] = 0;
  sw_q8_0_quantize_row(q, x, 96);
  for (int b = 0; b < 3; b++)
    for (int j = 0; j < 32; j++) {
      double d = f16_ref((uint16_t)(q[34 * b] | q[34 * b + 1] << 8));
      assert_true(fabs(x[32 * b + j] - deq_ref(q, SW_QTYPE_Q8_0, b, j)) <= d * 0.5 * (1 + 1e-6) + 1e-30);
    }
}

/* Gathered dots equal the single-row dot bit for bit; the Q8_0 row axpy matches float64. */
static void check_gather_variant(sw_isa_t isa) {
  uint64_t s = 77;
  enum { ROWS = 23, COLS = 96, NB = COLS / SW_QBLOCK };
  for (int t = 0; t < 3; t++) {
    size_t rb = sw_qtype_block_bytes(k_types[t]) * NB;
    uint8_t w[ROWS * 34 * NB];
    for (int r = 0; r < ROWS; r++) random_row(w + rb * r, k_types[t], NB, &s);
    sw_qmat_t W;
    assert_int_equal(sw_qmat_view(&W, k_types[t], ROWS, COLS, w, "g", NULL), SW_OK);
    float x[COLS], out[ROWS], coef[ROWS], y[COLS] = {0};
    random_vec(x, COLS, &s);
    sw_q8a_t a[NB];
    sw_q8a_quantize(a, x, COLS);
    int32_t idx[ROWS];
    int n = 0;
    for (int r = ROWS - 1; r >= 0; r -= 2) idx[n] = r, coef[n++] = (float)(r % 5) - 2.0f;
    sw_qdot_rows(isa, &W, idx, n, a, out);
    for (int k = 0; k < n; k++) {
      double mag, want = dot_ref(w + rb * idx[k], k_types[t], a, NB, &mag);
      if (fabs(out[k] - want) > SW_TOL_QDOT_ABS + SW_TOL_QDOT_REL * mag)
        fail_msg("%s type %u gathered row %d: got %.9g want %.9g", sw_isa_name(isa), k_types[t], idx[k], out[k], want);
    }
    if (k_types[t] != SW_QTYPE_Q8_0) continue;
    sw_q8_axpy_rows(isa, y, &W, idx, coef, n);
    for (int j = 0; j < COLS; j++) {
      double want = 0, mag = 0;
      for (int k = 0; k < n; k++) {
        double v = coef[k] * deq_ref(w + rb * idx[k], SW_QTYPE_Q8_0, j / 32, j % 32);
        want += v, mag += fabs(v);
      }
      assert_true(fabs(y[j] - want) <= SW_TOL_QDOT_ABS + SW_TOL_QDOT_REL * mag);
    }
  }
}

/* The pool-split gathered dots (rows shared out) and Q8_0 axpy (output blocks shared out) on two threads equal
 * the single-thread calls bit for bit, on enough rows that the pool runs. */
static void test_gather_pool(void **state) {
  (void)state;
  uint64_t s = 91;
  enum { ROWS = 41, COLS = 160, NB = COLS / SW_QBLOCK };
  size_t rb = sw_qtype_block_bytes(SW_QTYPE_Q8_0) * NB;
  static uint8_t w[ROWS * 34 * NB];
  for (int r = 0; r < ROWS; r++) random_row(w + rb * r, SW_QTYPE_Q8_0, NB, &s);
  sw_qmat_t W;
  assert_int_equal(sw_qmat_view(&W, SW_QTYPE_Q8_0, ROWS, COLS, w, "p", NULL), SW_OK);
  float x[COLS], one[ROWS], two[ROWS], coef[ROWS], y1[COLS] = {0}, y2[COLS] = {0};
  random_vec(x, COLS, &s);
  sw_q8a_t a[NB];
  sw_q8a_quantize(a, x, COLS);
  int32_t idx[ROWS];
  for (int k = 0; k < ROWS; k++) idx[k] = (k * 17) % ROWS, coef[k] = (float)(k % 7) - 3.0f;
  sw_err_t err = {0};
  sw_qctx_t solo = {sw_isa_best(), NULL}, duo = {sw_isa_best(), NULL};
  assert_int_equal(sw_pool_create(&duo.pool, 2, &err), SW_OK);
  sw_qdot_rows_ctx(&solo, &W, idx, ROWS, a, one);
  sw_qdot_rows_ctx(&duo, &W, idx, ROWS, a, two);
  assert_memory_equal(one, two, sizeof one);
  sw_q8_axpy_rows_ctx(&solo, y1, &W, idx, coef, ROWS);
  sw_q8_axpy_rows_ctx(&duo, y2, &W, idx, coef, ROWS);
  assert_memory_equal(y1, y2, sizeof y1);
  static uint8_t w4[ROWS * 20 * NB]; /* Q4_1: the eight-row gathered kernel, shares split at multiples of 8 */
  size_t rb4 = sw_qtype_block_bytes(SW_QTYPE_Q4_1) * NB;
  for (int r = 0; r < ROWS; r++) random_row(w4 + rb4 * r, SW_QTYPE_Q4_1, NB, &s);
  assert_int_equal(sw_qmat_view(&W, SW_QTYPE_Q4_1, ROWS, COLS, w4, "p4", NULL), SW_OK);
  sw_qdot_rows_ctx(&solo, &W, idx, ROWS, a, one);
  sw_qdot_rows_ctx(&duo, &W, idx, ROWS, a, two);
  assert_memory_equal(one, two, sizeof one);
  sw_pool_destroy(duo.pool);
}

static void test_gather(void **state) { check_gather_variant(sw_test_isa(state)); }

/* ---- the row-interleaved copy (kernels/sw_qpack.h) ---- */

/* Packed GEMM of a variant against the float64 reference row by row, for row counts around the group size
 * (padding), column counts from one block up, and a Q8_0 weight of -128 (|w| = 128 still fits pmaddubsw). */
static void check_pack_variant(sw_isa_t isa) {
  static const int rows_list[] = {1, 7, 8, 9, 45, 64}, cols_list[] = {32, 160, 576};
  uint64_t s = 41 + (uint64_t)isa;
  for (int t = 0; t < 3; t++)
    for (size_t ri = 0; ri < sizeof rows_list / sizeof *rows_list; ri++)
      for (size_t ci = 0; ci < sizeof cols_list / sizeof *cols_list; ci++) {
        int rows = rows_list[ri], cols = cols_list[ci], nb = cols / SW_QBLOCK;
        size_t rb = sw_qtype_block_bytes(k_types[t]) * (size_t)nb;
        uint8_t *w = random_matrix(k_types[t], rows, nb, &s);
        if (k_types[t] == SW_QTYPE_Q8_0) w[2] = 0x80, w[rb * (size_t)(rows - 1) + 5] = 0x80;
        float *x = malloc(sizeof(float) * (size_t)cols), *y = malloc(sizeof(float) * (size_t)rows);
        sw_q8a_t *a = malloc(sizeof *a * (size_t)nb);
        random_vec(x, cols, &s);
        sw_q8a_quantize(a, x, cols);
        sw_qmat_t W;
        sw_qpack_t P;
        assert_int_equal(sw_qmat_view(&W, k_types[t], rows, cols, w, "p", NULL), SW_OK);
        assert_int_equal(sw_qpack_build(&P, &W, "p", NULL), SW_OK);
        assert_int_equal(P.groups, (rows + 7) / 8);
        sw_qctx_t ctx = {isa, NULL};
        sw_qpack_gemm(&ctx, y, a, &P, 1, 0);
        for (int r = 0; r < rows; r++) {
          double mag, want = dot_ref(w + rb * r, k_types[t], a, nb, &mag);
          if (fabs(y[r] - want) > SW_TOL_QDOT_ABS + SW_TOL_QDOT_REL * mag)
            fail_msg("%s type %u %dx%d row %d: got %.9g want %.9g", sw_isa_name(isa), k_types[t], rows, cols, r, y[r],
                     want);
        }
        sw_qpack_free(&P);
        free(w), free(x), free(y), free(a);
      }
}

static void test_pack(void **state) { check_pack_variant(sw_test_isa(state)); }

/* A token's packed result does not depend on the batch (1 token vs tiles of 4 and a tail; the one-token kernel
 * skips all-zero activation blocks), the threads, or whether it runs through sw_qgemm with W.packed set;
 * accumulate adds to y. */
static void test_pack_tokens_threads(void **state) {
  (void)state;
  uint64_t s = 77;
  enum { ROWS = 45, COLS = 160, NTOK = 9, NB = COLS / SW_QBLOCK };
  for (int t = 0; t < 3; t++) {
    uint8_t *w = random_matrix(k_types[t], ROWS, NB, &s);
    float x[NTOK * COLS], y[NTOK * ROWS], one[ROWS], base[NTOK * ROWS];
    random_vec(x, NTOK * COLS, &s);
    for (int j = 0; j < SW_QBLOCK; j++) x[2 * COLS + 32 + j] = 0.0f; /* an all-zero block: skipped by one token */
    sw_q8a_t a[NTOK * NB];
    quantize_tokens(a, x, NTOK, COLS);
    sw_qmat_t W;
    sw_qpack_t P;
    assert_int_equal(sw_qmat_view(&W, k_types[t], ROWS, COLS, w, "p", NULL), SW_OK);
    assert_int_equal(sw_qpack_build(&P, &W, "p", NULL), SW_OK);
    W.packed = &P;
    for (int i = 0; i < NTOK * ROWS; i++) base[i] = (float)(i % 7) - 3.0f;
    for (int nt = 1; nt <= 3; nt++) {
      sw_qctx_t ctx = gemm_accumulated(y, base, NTOK * ROWS, a, &W, NTOK, nt);
      for (int k = 0; k < NTOK; k++) {
        sw_qctx_t solo = {ctx.isa, NULL};
        sw_qpack_gemm(&solo, one, a + k * NB, &P, 1, 0);
        for (int r = 0; r < ROWS; r++) assert_true(y[k * ROWS + r] == base[k * ROWS + r] + one[r]);
      }
      sw_pool_destroy(ctx.pool);
    }
    sw_qpack_free(&P);
    free(w);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_f16_all_values),     cmocka_unit_test(test_q8a_rounding),
      cmocka_unit_test(test_q8a_ties_exact),
      SW_TEST_ISAS(test_dot),                    cmocka_unit_test(test_gemm_threads_tokens),
      cmocka_unit_test(test_view_rejects),       cmocka_unit_test(test_vs_gguf_package),
      cmocka_unit_test(test_f32_to_f16),         cmocka_unit_test(test_q8_0_quantize_row),
      SW_TEST_ISAS(test_gather),                 cmocka_unit_test(test_gather_pool),
      SW_TEST_ISAS(test_pack),
      cmocka_unit_test(test_pack_tokens_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
