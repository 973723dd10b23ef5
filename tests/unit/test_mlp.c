/* Unit tests for kernels/sw_mlp: forward against a float64 naive reference, backward against float64
 * central finite differences, and training on targets with a known answer (a linear map learnt to a stated
 * MSE with the true weights recovered; an XOR-like quadrant classification learnt with BCE), determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_mlp.h"

/* Forward: float32 sgemm vs float64 loops over <= 64-term dot products. */
#define FWD_TOL_ABS 1e-5
#define FWD_TOL_REL 1e-4
/* Finite differences of a float32 forward pass: step 1e-2, float64 accumulation of the loss. */
#define GRAD_TOL_ABS 2e-3
#define GRAD_TOL_REL 3e-2
/* Largest |gradient| entry below which the gradient counts as zero (a broken backward pass). */
#define GRAD_NONZERO_MIN 1e-3

static double ref_act(sw_mlp_act_t a, double z) {
  switch (a) {
  case SW_MLP_ACT_RELU: return z > 0 ? z : 0;
  case SW_MLP_ACT_SIGMOID: return 1.0 / (1.0 + exp(-z));
  case SW_MLP_ACT_ABS: return fabs(z);
  case SW_MLP_ACT_TANH: return tanh(z);
  case SW_MLP_ACT_NONE: break;
  }
  return z;
}

/* float64 forward of one row through mlp (independent of the library's sgemm path). */
static void ref_forward(double *y, const sw_mlp_t *mlp, const float *x) {
  double a[256], b[256];
  for (size_t i = 0; i < mlp->layer[0].n_in; i++) a[i] = x[i];
  for (size_t l = 0; l < mlp->n_layer; l++) {
    const sw_mlp_layer_t *L = &mlp->layer[l];
    for (size_t j = 0; j < L->n_out; j++) {
      double s = L->b ? L->b[j] : 0.0;
      for (size_t i = 0; i < L->n_in; i++) s += (double)L->w[j * L->n_in + i] * a[i];
      b[j] = ref_act(L->act, s);
    }
    memcpy(a, b, L->n_out * sizeof(double));
  }
  memcpy(y, a, sw_mlp_n_out(mlp) * sizeof(double));
}

static void fill_normal(float *x, size_t n, uint64_t seed) {
  sw_mlp_rng_t r = {seed};
  for (size_t i = 0; i < n; i++) x[i] = (float)sw_mlp_rng_normal(&r);
}

static void test_forward_matches_reference(void **state) {
  (void)state;
  const size_t dims[4] = {13, 37, 9, 5};
  const sw_mlp_act_t acts[3] = {SW_MLP_ACT_RELU, SW_MLP_ACT_TANH, SW_MLP_ACT_ABS};
  const sw_mlp_act_t acts2[3] = {SW_MLP_ACT_NONE, SW_MLP_ACT_SIGMOID, SW_MLP_ACT_SIGMOID};
  for (int variant = 0; variant < 2; variant++) {
    sw_mlp_t mlp;
    sw_err_t err;
    assert_int_equal(sw_mlp_init(&mlp, dims, variant ? acts2 : acts, 3, variant, 7 + (uint64_t)variant, &err), SW_OK);
    if (variant) fill_normal(mlp.layer[1].b, 9, 3); /* non-zero biases */
    for (size_t n = 1; n <= 7; n += 6) {
      float x[7 * 13], y[7 * 5], *work = malloc(sw_mlp_work_floats(&mlp, n) * sizeof(float));
      fill_normal(x, n * 13, 11);
      for (size_t i = 0; i < n * 5; i++) y[i] = NAN; /* poison */
      sw_mlp_forward(y, &mlp, x, n, work);
      for (size_t r = 0; r < n; r++) {
        double ref[5];
        ref_forward(ref, &mlp, x + r * 13);
        for (int j = 0; j < 5; j++) assert_true(fabs(y[r * 5 + j] - ref[j]) <= FWD_TOL_ABS + FWD_TOL_REL * fabs(ref[j]));
      }
      free(work);
    }
    sw_mlp_free(&mlp);
  }
}

/* Analytic gradient equals float64 central differences of the library's own loss, for MSE through abs and
 * for weighted BCE, with biases. */
static void check_grad(sw_mlp_t *mlp, const float *x, const float *t, size_t n, const sw_mlp_train_cfg_t *cfg) {
  sw_err_t err;
  double loss;
  float *g = malloc(mlp->n_params * sizeof(float));
  assert_int_equal(sw_mlp_grad(&loss, g, mlp, x, t, n, cfg, &err), SW_OK);
  double gmax = 0;
  for (size_t i = 0; i < mlp->n_params; i++) gmax = fmax(gmax, fabs(g[i]));
  assert_true(gmax > GRAD_NONZERO_MIN); /* a zero gradient must not pass */
  for (size_t i = 0; i < mlp->n_params; i += 3) {
    const float keep = mlp->params[i], h = 1e-2f;
    double lp, lm;
    mlp->params[i] = keep + h;
    assert_int_equal(sw_mlp_eval_loss(&lp, mlp, x, t, n, cfg, &err), SW_OK);
    mlp->params[i] = keep - h;
    assert_int_equal(sw_mlp_eval_loss(&lm, mlp, x, t, n, cfg, &err), SW_OK);
    mlp->params[i] = keep;
    double fd = (lp - lm) / (2.0 * (double)h);
    if (fabs(g[i] - fd) > GRAD_TOL_ABS + GRAD_TOL_REL * fabs(fd))
      fail_msg("param %zu: analytic %.6g vs finite difference %.6g", i, (double)g[i], fd);
  }
  free(g);
}

static void test_gradient_matches_finite_differences(void **state) {
  (void)state;
  enum { N = 24, DIN = 6, DH = 10, DOUT = 4 };
  const size_t dims[3] = {DIN, DH, DOUT};
  float x[N * DIN], t[N * DOUT];
  fill_normal(x, N * DIN, 5);
  sw_mlp_train_cfg_t cfg;
  sw_mlp_train_defaults(&cfg);
  sw_mlp_t mlp;
  sw_err_t err;
  /* MSE through an abs head (D2DMoE router form); tanh hidden layer avoids ReLU kinks at the FD step. */
  const sw_mlp_act_t a1[2] = {SW_MLP_ACT_TANH, SW_MLP_ACT_ABS};
  assert_int_equal(sw_mlp_init(&mlp, dims, a1, 2, 1, 21, &err), SW_OK);
  fill_normal(t, N * DOUT, 6);
  for (int i = 0; i < N * DOUT; i++) t[i] = fabsf(t[i]) + 1.0f;
  check_grad(&mlp, x, t, N, &cfg);
  sw_mlp_free(&mlp);
  /* weighted BCE with soft targets */
  const sw_mlp_act_t a2[2] = {SW_MLP_ACT_TANH, SW_MLP_ACT_SIGMOID};
  assert_int_equal(sw_mlp_init(&mlp, dims, a2, 2, 1, 22, &err), SW_OK);
  sw_mlp_rng_t r = {9};
  for (int i = 0; i < N * DOUT; i++) t[i] = (float)sw_mlp_rng_uniform(&r);
  cfg.loss = SW_MLP_LOSS_BCE;
  cfg.pos_weight = 3.0;
  cfg.neg_weight = 0.5;
  check_grad(&mlp, x, t, N, &cfg);
  sw_mlp_free(&mlp);
}

/* Known answer 1: y = A x + c.  A one-layer linear MLP must reach MSE < 1e-5 and recover A and c. */
#define LIN_MSE_MAX 1e-5
#define LIN_W_TOL 5e-3
static void test_learns_linear_map(void **state) {
  (void)state;
  enum { N = 512, DIN = 8, DOUT = 3 };
  float A[DOUT * DIN], c[DOUT], *x = malloc(N * DIN * sizeof(float)), *t = malloc(N * DOUT * sizeof(float));
  fill_normal(A, DOUT * DIN, 100);
  fill_normal(c, DOUT, 101);
  fill_normal(x, N * DIN, 102);
  for (int r = 0; r < N; r++)
    for (int j = 0; j < DOUT; j++) {
      double s = c[j];
      for (int i = 0; i < DIN; i++) s += (double)A[j * DIN + i] * x[r * DIN + i];
      t[r * DOUT + j] = (float)s;
    }
  const size_t dims[2] = {DIN, DOUT};
  const sw_mlp_act_t acts[1] = {SW_MLP_ACT_NONE};
  sw_mlp_t mlp;
  sw_err_t err;
  assert_int_equal(sw_mlp_init(&mlp, dims, acts, 1, 1, 3, &err), SW_OK);
  sw_mlp_train_cfg_t cfg;
  sw_mlp_train_defaults(&cfg);
  cfg.lr = 2e-2;
  cfg.batch = 32;
  cfg.epochs = 150;
  sw_mlp_train_stats_t st;
  assert_int_equal(sw_mlp_train(&mlp, x, t, N, &cfg, &st, &err), SW_OK);
  assert_true(st.first_epoch_loss > 0.5); /* the task is not trivial at initialisation */
  if (!(st.final_loss < LIN_MSE_MAX)) fail_msg("final MSE %.3g >= %.1g", st.final_loss, LIN_MSE_MAX);
  for (int i = 0; i < DOUT * DIN; i++) assert_true(fabs(mlp.layer[0].w[i] - A[i]) < LIN_W_TOL);
  for (int j = 0; j < DOUT; j++) assert_true(fabs(mlp.layer[0].b[j] - c[j]) < LIN_W_TOL);
  assert_int_equal(st.steps, 150u * (N / 32));
  sw_mlp_free(&mlp);
  free(x);
  free(t);
}

/* Known answer 2: XOR of the signs of two coordinates (not linearly separable).  2->16->1 ReLU/sigmoid with
 * BCE must reach mean BCE < 0.1 and >= 97% accuracy on held-out points. */
#define XOR_BCE_MAX 0.1
#define XOR_ACC_MIN 0.97
static void xor_data(float *x, float *t, size_t n, uint64_t seed) {
  sw_mlp_rng_t r = {seed};
  for (size_t i = 0; i < n; i++) {
    float a = (float)(2 * sw_mlp_rng_uniform(&r) - 1), b = (float)(2 * sw_mlp_rng_uniform(&r) - 1);
    /* keep a margin from the axes so the known answer is unambiguous */
    a += a > 0 ? 0.1f : -0.1f;
    b += b > 0 ? 0.1f : -0.1f;
    x[2 * i] = a, x[2 * i + 1] = b;
    t[i] = (a > 0) != (b > 0) ? 1.0f : 0.0f;
  }
}

static void test_learns_xor_classification(void **state) {
  (void)state;
  enum { N = 1024, NT = 512 };
  float *x = malloc(2 * N * sizeof(float)), t[N], *xt = malloc(2 * NT * sizeof(float)), tt[NT], yt[NT];
  xor_data(x, t, N, 1);
  xor_data(xt, tt, NT, 2);
  const size_t dims[3] = {2, 16, 1};
  const sw_mlp_act_t acts[2] = {SW_MLP_ACT_RELU, SW_MLP_ACT_SIGMOID};
  sw_mlp_t mlp;
  sw_err_t err;
  assert_int_equal(sw_mlp_init(&mlp, dims, acts, 2, 1, 4, &err), SW_OK);
  sw_mlp_train_cfg_t cfg;
  sw_mlp_train_defaults(&cfg);
  cfg.loss = SW_MLP_LOSS_BCE;
  cfg.lr = 1e-2;
  cfg.batch = 32;
  cfg.epochs = 100;
  sw_mlp_train_stats_t st;
  assert_int_equal(sw_mlp_train(&mlp, x, t, N, &cfg, &st, &err), SW_OK);
  if (!(st.final_loss < XOR_BCE_MAX)) fail_msg("final BCE %.3g >= %.2g", st.final_loss, XOR_BCE_MAX);
  float *work = malloc(sw_mlp_work_floats(&mlp, NT) * sizeof(float));
  sw_mlp_forward(yt, &mlp, xt, NT, work);
  int correct = 0;
  for (int i = 0; i < NT; i++) correct += (yt[i] > 0.5f) == (tt[i] > 0.5f);
  if (!((double)correct / NT >= XOR_ACC_MIN)) fail_msg("held-out accuracy %.3f", (double)correct / NT);
  free(work);
  free(x);
  free(xt);
  sw_mlp_free(&mlp);
}

static void test_deterministic_given_seed(void **state) {
  (void)state;
  enum { N = 200 };
  float x[N * 4], t[N * 2];
  fill_normal(x, N * 4, 1);
  fill_normal(t, N * 2, 2);
  const size_t dims[3] = {4, 8, 2};
  const sw_mlp_act_t acts[2] = {SW_MLP_ACT_RELU, SW_MLP_ACT_NONE};
  sw_mlp_train_cfg_t cfg;
  sw_mlp_train_defaults(&cfg);
  cfg.epochs = 3;
  sw_mlp_t m[3];
  sw_err_t err;
  for (int k = 0; k < 3; k++) {
    assert_int_equal(sw_mlp_init(&m[k], dims, acts, 2, 1, 5, &err), SW_OK);
    cfg.seed = k < 2 ? 10 : 11;
    assert_int_equal(sw_mlp_train(&m[k], x, t, N, &cfg, NULL, &err), SW_OK);
  }
  assert_memory_equal(m[0].params, m[1].params, m[0].n_params * sizeof(float));
  assert_memory_not_equal(m[0].params, m[2].params, m[0].n_params * sizeof(float));
  sw_mlp_t c;
  assert_int_equal(sw_mlp_copy(&c, &m[0], &err), SW_OK);
  assert_memory_equal(c.params, m[0].params, c.n_params * sizeof(float));
  assert_ptr_equal(c.layer[1].b, c.params + (m[0].layer[1].b - m[0].params));
  sw_mlp_free(&c);
  for (int k = 0; k < 3; k++) sw_mlp_free(&m[k]);
  sw_mlp_free(&m[0]); /* free twice is harmless */
}

static void test_rejects_bad_configs(void **state) {
  (void)state;
  const size_t dims[2] = {3, 2};
  const sw_mlp_act_t relu[1] = {SW_MLP_ACT_RELU};
  sw_mlp_t mlp;
  sw_err_t err;
  assert_int_equal(sw_mlp_init(&mlp, dims, relu, 0, 0, 1, &err), SW_ERR_INVALID);
  sw_mlp_free(&mlp);
  assert_int_equal(sw_mlp_init(&mlp, dims, relu, 1, 0, 1, &err), SW_OK);
  sw_mlp_train_cfg_t cfg;
  sw_mlp_train_defaults(&cfg);
  cfg.loss = SW_MLP_LOSS_BCE;
  float x[3] = {1, 2, 3}, t[2] = {0, 1};
  assert_int_equal(sw_mlp_train(&mlp, x, t, 1, &cfg, NULL, &err), SW_ERR_INVALID);
  assert_non_null(strstr(err.msg, "sigmoid"));
  assert_true(sw_mlp_flops_per_row(&mlp) == 12.0);
  sw_mlp_free(&mlp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_matches_reference),
      cmocka_unit_test(test_gradient_matches_finite_differences),
      cmocka_unit_test(test_learns_linear_map),
      cmocka_unit_test(test_learns_xor_classification),
      cmocka_unit_test(test_deterministic_given_seed),
      cmocka_unit_test(test_rejects_bad_configs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
