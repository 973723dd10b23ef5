/* Unit tests for kernels/sw_predictor (Deja Vu low-rank predictor): labels equal float64 activity of the FFN;
 * on an FFN whose up projection has rank 8 (so activity is a rank-8 linear sign pattern, a known answer),
 * a rank-16 predictor reaches >= 95% recall and >= 90% precision on held-out tokens; the predicted positives
 * are computed exactly (output = float64 masked reference, poisoned outputs); top-k gives k neurons per token;
 * predictor FLOPs are charged to the call; PowerInfer's ReLU predictor and threshold on a hand-set case; Deja Vu's
 * recall-based early stopping keeps the best held-out epoch; the lookahead forward selects from its own input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_act.h"
#include "kernels/sw_predictor.h"

#define OUT_TOL_ABS 2e-5
#define OUT_TOL_REL 2e-4
/* FLOP counts are sums of exact integers in double: only the last bits may differ. */
#define FLOPS_TOL_REL 1e-6
/* Pre-activations this close to 0 may change sign between float32 and float64. */
#define SIGN_MARGIN 1e-5
/* The largest |reference output| must exceed this, so that a kernel returning zeros cannot pass. */
#define REF_MAGNITUDE_MIN 0.05
#define RECALL_MIN 0.95
#define PRECISION_MIN 0.90

enum { D = 32, F = 96, R0 = 8 };

typedef struct lowrank {
  float           *up, *down;
  sw_ffn_weights_t w;
} lowrank_t;

static void fill_normal(float *x, size_t n, double scale, sw_mlp_rng_t *r) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(scale * sw_mlp_rng_normal(r));
}

/* plain ReLU FFN with up = A·B, A [F][R0], B [R0][D] */
static void lowrank_init(lowrank_t *m) {
  sw_mlp_rng_t r = {8};
  float a[F * R0], b[R0 * D];
  fill_normal(a, F * R0, 1.0, &r);
  fill_normal(b, R0 * D, 1.0 / sqrt(D * R0), &r);
  m->up = malloc(F * D * sizeof(float));
  m->down = malloc(F * D * sizeof(float));
  for (int i = 0; i < F; i++)
    for (int k = 0; k < D; k++) {
      double s = 0;
      for (int j = 0; j < R0; j++) s += (double)a[i * R0 + j] * b[j * D + k];
      m->up[i * D + k] = (float)s;
    }
  fill_normal(m->down, F * D, 1.0 / sqrt(F), &r);
  memset(&m->w, 0, sizeof m->w);
  m->w.d_model = D, m->w.d_ff = F, m->w.gated = 0, m->w.act = SW_ACT_RELU, m->w.dtype = SW_DTYPE_F32;
  m->w.up = m->up, m->w.down = m->down, m->w.ld_up = m->w.ld_down = D;
}

static double ref_pre(const lowrank_t *m, const float *x, int i) {
  double s = 0;
  for (int k = 0; k < D; k++) s += (double)m->up[i * D + k] * x[k];
  return s;
}

/* Checks token t's output y[D] against float64 Σ_{i in mask} relu(up_i·x) down_i; returns the largest |reference|. */
static double check_masked_output(const lowrank_t *m, const sw_mask_t *mask, int t, const float *x, const float *y) {
  double ref[D] = {0}, mx = 0;
  for (int64_t q = mask->off[t]; q < mask->off[t + 1]; q++) {
    int i = mask->idx[q];
    double h = fmax(ref_pre(m, x, i), 0.0);
    for (int k = 0; k < D; k++) ref[k] += h * m->down[i * D + k];
  }
  for (int k = 0; k < D; k++) {
    assert_true(fabs(y[k] - ref[k]) <= OUT_TOL_ABS + OUT_TOL_REL * fabs(ref[k]));
    mx = fmax(mx, fabs(ref[k]));
  }
  return mx;
}

static void test_labels_and_known_answer(void **state) {
  (void)state;
  enum { NTR = 2048, NTE = 256 };
  lowrank_t m;
  lowrank_init(&m);
  sw_mlp_rng_t r = {9};
  float *xtr = malloc(NTR * D * sizeof(float)), *xte = malloc(NTE * D * sizeof(float));
  fill_normal(xtr, NTR * D, 1.0, &r);
  fill_normal(xte, NTE * D, 1.0, &r);
  float *lte = malloc(NTE * F * sizeof(float));
  sw_err_t err;
  assert_int_equal(sw_predictor_labels(lte, &m.w, xte, NTE, 0.0, &err), SW_OK);
  int agree = 0, ones = 0;
  for (int t = 0; t < NTE; t++)
    for (int i = 0; i < F; i++) {
      double z = ref_pre(&m, xte + t * D, i);
      if (fabs(z) < SIGN_MARGIN) continue; /* float rounding may flip a sign this close to 0 */
      assert_int_equal(lte[t * F + i] > 0.5f, z > 0);
      agree++, ones += z > 0;
    }
  assert_true(agree > NTE * F * 0.99 && ones > NTE * F / 4 && ones < NTE * F * 3 / 4);
  sw_predictor_cfg_t cfg;
  sw_predictor_defaults(&cfg);
  cfg.rank = 16;
  cfg.train.lr = 3e-3;
  cfg.train.epochs = 30;
  sw_predictor_t p;
  sw_mlp_train_stats_t st;
  assert_int_equal(sw_predictor_train(&p, &m.w, xtr, NTR, &cfg, &st, &err), SW_OK);
  double recall, precision, pd, td;
  assert_int_equal(sw_predictor_eval(&recall, &precision, &pd, &td, &p, xte, lte, NTE, 0.0, 0, &err), SW_OK);
  print_message("predictor held-out recall %.4f precision %.4f density %.3f (true %.3f), BCE %.4f -> %.4f\n", recall,
                precision, pd, td, st.first_epoch_loss, st.final_loss);
  assert_true(recall >= RECALL_MIN && precision >= PRECISION_MIN);
  assert_true(sw_predictor_flops(&p) == 2.0 * (D * 16 + 16 * F));
  sw_predictor_free(&p);
  sw_predictor_free(&p);
  free(xtr), free(xte), free(lte), free(m.up), free(m.down);
}

/* Output of sw_predictor_forward = float64 Σ_{i in returned mask} relu(up_i·x) down_i; top-k gives k per token. */
static void test_positives_computed(void **state) {
  (void)state;
  lowrank_t m;
  lowrank_init(&m);
  sw_err_t err;
  sw_predictor_cfg_t cfg;
  sw_predictor_defaults(&cfg);
  cfg.rank = 12;
  cfg.train.epochs = 2;
  enum { N = 64 };
  sw_mlp_rng_t r = {10};
  float x[N * D], y[N * D];
  fill_normal(x, N * D, 1.0, &r);
  sw_predictor_t p;
  assert_int_equal(sw_predictor_train(&p, &m.w, x, N, &cfg, NULL, &err), SW_OK);
  sw_predictor_work_t pw;
  sw_ffn_work_t fw;
  sw_mask_t mask;
  assert_int_equal(sw_predictor_work_alloc(&pw, &p, N, &err), SW_OK);
  assert_int_equal(sw_ffn_work_alloc(&fw, D, F, N, 1, &err), SW_OK);
  assert_int_equal(sw_mask_alloc(&mask, F, N, &err), SW_OK);
  const int ks[3] = {0, 10, 0};
  const double thr[3] = {0.0, 0.0, -INFINITY}; /* logit thresholds */
  const int toks[2] = {1, N};
  for (int c = 0; c < 3; c++)
    for (int ti = 0; ti < 2; ti++) {
      const int T = toks[ti];
      for (int i = 0; i < T * D; i++) y[i] = NAN;
      sw_ffn_stats_t st;
      assert_int_equal(sw_predictor_forward(y, &mask, x, &m.w, &p, thr[c], ks[c], &st, &pw, &fw, T), SW_OK);
      int64_t active = 0;
      double mx = 0;
      for (int t = 0; t < T; t++) {
        if (ks[c]) assert_int_equal(sw_mask_count(&mask, t), ks[c]);
        if (isinf(thr[c])) assert_int_equal(sw_mask_count(&mask, t), F); /* every logit > -inf: dense */
        active += sw_mask_count(&mask, t);
        mx = fmax(mx, check_masked_output(&m, &mask, t, x + t * D, y + t * D));
      }
      assert_true(mx > REF_MAGNITUDE_MIN);
      assert_true(st.flops_select == T * sw_predictor_flops(&p));
      assert_true(fabs(st.flops - (active * 4.0 * D + T * sw_predictor_flops(&p))) <= FLOPS_TOL_REL * st.flops);
    }
  sw_mask_free(&mask);
  sw_ffn_work_free(&fw);
  sw_predictor_work_free(&pw);
  sw_predictor_free(&p);
  free(m.up), free(m.down);
}

/* PowerInfer's predictor on a hand-set case: logits = W2·ReLU(W1·x), a neuron runs iff its logit > the threshold.
 * W1 rows: e0, -e0 (hidden = relu(x0), relu(-x0)); W2 rows: n0 (1, 0), n1 (0, 1), n2 (-1, 0), n3 (0.5, -2), the
 * rest 0.  x0 = 2: hidden (2, 0), logits (2, 0, -2, 1) -> {0, 3}; threshold 1.5 -> {0}.  x0 = -1: hidden (0, 1),
 * logits (0, 1, 0, -2) -> {1}.  Deja Vu's predictor (no ReLU) on the same weights: x0 = 2 gives hidden (2, -2),
 * logits (2, -2, -2, 5) -> {0, 3}; x0 = -1 gives hidden (-1, 1), logits (-1, 1, 1, -2.5) -> {1, 2}. */
static void hand_predictor(sw_predictor_t *p, const lowrank_t *m, sw_mlp_act_t hidden) {
  sw_predictor_cfg_t cfg;
  sw_predictor_defaults(&cfg);
  cfg.rank = 2, cfg.hidden_act = hidden, cfg.train.epochs = 0; /* shaped only */
  float x0[D] = {0};
  sw_err_t err;
  assert_int_equal(sw_predictor_train(p, &m->w, x0, 1, &cfg, NULL, &err), SW_OK);
  sw_mlp_layer_t *l1 = &p->mlp.layer[0], *l2 = &p->mlp.layer[1];
  assert_true(l1->n_in == D && l1->n_out == 2 && l2->n_in == 2 && l2->n_out == F && l1->act == hidden);
  memset(p->mlp.params, 0, p->mlp.n_params * sizeof(float));
  l1->w[0 * D + 0] = 1.0f, l1->w[1 * D + 0] = -1.0f;
  l2->w[0 * 2 + 0] = 1.0f, l2->w[1 * 2 + 1] = 1.0f, l2->w[2 * 2 + 0] = -1.0f;
  l2->w[3 * 2 + 0] = 0.5f, l2->w[3 * 2 + 1] = -2.0f;
}

/* The neurons selected for one token with first input x0 (other inputs random, weights 0) at a logit threshold. */
static int selected(const sw_predictor_t *p, float x0, double logit_thr, int want[F]) {
  sw_mlp_rng_t r = {12};
  float x[D];
  fill_normal(x, D, 1.0, &r);
  x[0] = x0;
  sw_predictor_work_t pw;
  sw_mask_t mask;
  sw_err_t err;
  assert_int_equal(sw_predictor_work_alloc(&pw, p, 1, &err), SW_OK);
  assert_int_equal(sw_mask_alloc(&mask, F, 1, &err), SW_OK);
  assert_int_equal(sw_predictor_select(&mask, p, x, logit_thr, 0, &pw, 1), SW_OK);
  memset(want, 0, F * sizeof *want);
  int n = (int)sw_mask_count(&mask, 0);
  for (int q = 0; q < n; q++) want[mask.idx[q]] = 1;
  sw_mask_free(&mask);
  sw_predictor_work_free(&pw);
  return n;
}

static void test_powerinfer_hand_checked(void **state) {
  (void)state;
  lowrank_t m;
  lowrank_init(&m);
  sw_predictor_t pi, dv;
  hand_predictor(&pi, &m, SW_MLP_ACT_RELU);
  hand_predictor(&dv, &m, SW_MLP_ACT_NONE);
  int on[F];
  assert_int_equal(selected(&pi, 2.0f, 0.0, on), 2);
  assert_true(on[0] && on[3]);
  assert_int_equal(selected(&pi, 2.0f, 1.5, on), 1);
  assert_true(on[0]);
  assert_int_equal(selected(&pi, -1.0f, 0.0, on), 1);
  assert_true(on[1]);
  assert_int_equal(selected(&dv, 2.0f, 0.0, on), 2);
  assert_true(on[0] && on[3]);
  assert_int_equal(selected(&dv, -1.0f, 0.0, on), 2); /* the ReLU is what drops neuron 2 */
  assert_true(on[1] && on[2]);
  assert_true(sw_predictor_flops(&pi) == 2.0 * (D * 2 + 2 * F));
  /* thresholds where a float sigmoid cannot tell logits apart: x0 = 17.5 gives neuron 0 the logit 17.5 and
   * neuron 3 the logit 8.75 (the ReLU drops the other hidden unit); sigmoidf(17.5) rounds to 1, as does the
   * sigmoid of 18, so a threshold on probabilities kept neuron 0 at 18 */
  assert_int_equal(selected(&pi, 17.5f, 18.0, on), 0);
  assert_int_equal(selected(&pi, 17.5f, 17.0, on), 1);
  assert_true(on[0]);
  assert_int_equal(selected(&pi, 1e-8f, 0.0, on), 2); /* logits 1e-8 and 5e-9 are above 0: sigmoidf gives 0.5 */
  assert_true(on[0] && on[3]);
  sw_predictor_free(&pi);
  sw_predictor_free(&dv);
  free(m.up), free(m.down);
}

/* Deja Vu's early stopping: the kept parameters are those of the best held-out recall (recomputed here from the
 * last val_frac of the tokens), and training ends patience epochs after it (or at the recall target). */
static void test_early_stopping_on_recall(void **state) {
  (void)state;
  enum { N = 1024, EPOCHS = 60 };
  lowrank_t m;
  lowrank_init(&m);
  sw_mlp_rng_t r = {13};
  float *x = malloc(N * D * sizeof(float)), *lab = malloc(N * F * sizeof(float));
  fill_normal(x, N * D, 1.0, &r);
  sw_err_t err;
  assert_int_equal(sw_predictor_labels(lab, &m.w, x, N, 0.0, &err), SW_OK);
  sw_predictor_cfg_t cfg;
  sw_predictor_dejavu_defaults(&cfg);
  assert_true(cfg.val_frac == 0.05 && cfg.train.patience == 5 && cfg.train.stop_score == 0.99 &&
              cfg.train.weight_decay == 0.01);
  cfg.rank = 16, cfg.train.lr = 3e-2, cfg.train.epochs = EPOCHS, cfg.train.stop_score = 0, cfg.train.patience = 2;
  cfg.val_frac = 0.25;
  sw_predictor_t p;
  sw_mlp_train_stats_t st;
  assert_int_equal(sw_predictor_train(&p, &m.w, x, N, &cfg, &st, &err), SW_OK);
  int n_val = N / 4, n_train = N - n_val;
  double recall;
  assert_int_equal(sw_predictor_eval(&recall, NULL, NULL, NULL, &p, x + n_train * D, lab + n_train * F, n_val, 0.0, 0,
                                     &err), SW_OK);
  print_message("early stop: %zu epochs run, best epoch %zu, held-out recall %.4f\n", st.epochs_run, st.best_epoch,
                recall);
  assert_true(fabs(recall - st.best_score) < 1e-12);
  assert_true(st.epochs_run < EPOCHS && st.epochs_run == st.best_epoch + 1 + cfg.train.patience); /* a plateau */
  sw_predictor_free(&p);
  /* a reachable recall target ends training at the first epoch that meets it */
  cfg.train.patience = 0, cfg.train.stop_score = 0.5;
  assert_int_equal(sw_predictor_train(&p, &m.w, x, N, &cfg, &st, &err), SW_OK);
  assert_true(st.best_score >= 0.5 && st.epochs_run == st.best_epoch + 1 && st.epochs_run < EPOCHS);
  sw_predictor_free(&p);
  free(x), free(lab), free(m.up), free(m.down);
}

/* Lookahead: sw_predictor_forward_from selects from x_pred and computes the FFN on x. */
static void test_forward_from_reads_x_pred(void **state) {
  (void)state;
  lowrank_t m;
  lowrank_init(&m);
  enum { N = 16 };
  sw_mlp_rng_t r = {14};
  float x[N * D], xp[N * D], y[N * D];
  fill_normal(x, N * D, 1.0, &r);
  fill_normal(xp, N * D, 1.0, &r);
  sw_predictor_cfg_t cfg;
  sw_predictor_defaults(&cfg);
  cfg.rank = 8, cfg.train.epochs = 2;
  sw_predictor_t p;
  sw_err_t err;
  assert_int_equal(sw_predictor_train_from(&p, &m.w, x, xp, N, &cfg, NULL, &err), SW_OK);
  sw_predictor_work_t pw;
  sw_ffn_work_t fw;
  sw_mask_t mask, want;
  assert_int_equal(sw_predictor_work_alloc(&pw, &p, N, &err), SW_OK);
  assert_int_equal(sw_ffn_work_alloc(&fw, D, F, N, 1, &err), SW_OK);
  assert_int_equal(sw_mask_alloc(&mask, F, N, &err), SW_OK);
  assert_int_equal(sw_mask_alloc(&want, F, N, &err), SW_OK);
  assert_int_equal(sw_predictor_select(&want, &p, xp, 0.0, 20, &pw, N), SW_OK);
  assert_int_equal(sw_predictor_forward_from(y, &mask, x, xp, &m.w, &p, 0.0, 20, NULL, &pw, &fw, N), SW_OK);
  double mx = 0;
  for (int t = 0; t < N; t++) {
    assert_int_equal(sw_mask_count(&mask, t), sw_mask_count(&want, t));
    for (int64_t q = want.off[t]; q < want.off[t + 1]; q++) assert_int_equal(mask.idx[q], want.idx[q]);
    mx = fmax(mx, check_masked_output(&m, &want, t, x + t * D, y + t * D));
  }
  assert_true(mx > REF_MAGNITUDE_MIN);
  sw_mask_free(&mask), sw_mask_free(&want);
  sw_ffn_work_free(&fw);
  sw_predictor_work_free(&pw);
  sw_predictor_free(&p);
  free(m.up), free(m.down);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_labels_and_known_answer),
      cmocka_unit_test(test_positives_computed),
      cmocka_unit_test(test_powerinfer_hand_checked),
      cmocka_unit_test(test_early_stopping_on_recall),
      cmocka_unit_test(test_forward_from_reads_x_pred),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
