/* Unit tests for the MoEfication / LTE pieces of the MoE methods (kernels/sw_moefy.h, kernels/sw_lte.h, the new
 * routers of kernels/sw_moe.h and the best-epoch choice of kernels/sw_mlp.h), each against a hand-computed
 * value or a float64 reference written here:
 * the router target of a 2-expert, 4-token batch (positive mass over the batch maximum), the positive part
 * of a gated FFN's h, the co-activation graph weights and the partition of a planted case, recall / precision
 * / density of constructed masks, the LTE loss and its gradient, the MoEfication router's initialisation
 * from the expert centres, the similarity router's scores, and the parameters of the best epoch kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sw_lte.h"
#include "kernels/sw_moe.h"
#include "kernels/sw_moefy.h"

/* float32 results against hand values / float64 references of O(1) magnitude. */
#define TOL 1e-5

/* A plain or gated FFN over caller arrays (rows of d floats), no biases. */
static sw_ffn_weights_t view(int d, int dff, int gated, sw_act_t act, float *g, float *u, float *dn) {
  sw_ffn_weights_t w;
  memset(&w, 0, sizeof w);
  w.d_model = d, w.d_ff = dff, w.gated = gated, w.act = act, w.dtype = SW_DTYPE_F32;
  w.gate = g, w.up = u, w.down = dn, w.ld_gate = w.ld_up = w.ld_down = (size_t)d;
  return w;
}

/* ReLU FFN, d = 2, 4 neurons in 2 contiguous experts {0,1} {2,3}; up rows (1,0) (0,1) (-1,0) (1,1).
 * Tokens (1,2) (-1,1) (2,-3) (-2,-1) give h = (1,2,0,3) (0,1,1,0) (2,0,0,0) (0,0,2,0), so the positive mass
 * per expert is (3,3) (1,1) (2,0) (0,2) and the batch maximum is 3: targets (1,1) (1/3,1/3) (2/3,0) (0,2/3).
 * (The per-token-max |h| definition this replaces would give (1,1) (1,1) (1,0) (0,1).) */
static void test_router_target_by_hand(void **state) {
  (void)state;
  float up[8] = {1, 0, 0, 1, -1, 0, 1, 1}, dn[8] = {1, 0, 0, 1, 1, 0, 0, 1};
  float x[8] = {1, 2, -1, 1, 2, -3, -2, -1};
  sw_ffn_weights_t w = view(2, 4, 0, SW_ACT_RELU, NULL, up, dn);
  int32_t assign[4] = {0, 0, 1, 1};
  sw_moe_t moe;
  sw_err_t err = {0};
  assert_int_equal(sw_moe_build(&moe, &w, assign, 2, &err), SW_OK);
  float t[8];
  assert_int_equal(sw_moe_mass(t, &moe, x, 4, 1, &err), SW_OK);
  const double raw[8] = {3, 3, 1, 1, 2, 0, 0, 2};
  for (int i = 0; i < 8; i++) assert_true(fabs(t[i] - raw[i]) < TOL);
  sw_moefy_batch_normalise(t, 4, 2, NULL);
  const double want[8] = {1, 1, 1.0 / 3, 1.0 / 3, 2.0 / 3, 0, 0, 2.0 / 3};
  for (int i = 0; i < 8; i++) assert_true(fabs(t[i] - want[i]) < TOL);
  sw_moe_free(&moe);
}

/* Gated ReGLU, one neuron per expert: gate rows 1, 1; up rows 1, -1; x = 2 gives h = (4, -4): positive mass
 * (4, 0), absolute mass (4, 4). */
static void test_positive_mass_of_gated_h(void **state) {
  (void)state;
  float g[2] = {1, 1}, u[2] = {1, -1}, dn[2] = {1, 1}, x[1] = {2};
  sw_ffn_weights_t w = view(1, 2, 1, SW_ACT_RELU, g, u, dn);
  int32_t assign[2] = {0, 1};
  sw_moe_t moe;
  sw_err_t err = {0};
  assert_int_equal(sw_moe_build(&moe, &w, assign, 2, &err), SW_OK);
  float pos[2], abs_[2];
  assert_int_equal(sw_moe_mass(pos, &moe, x, 1, 1, &err), SW_OK);
  assert_int_equal(sw_moe_mass(abs_, &moe, x, 1, 0, &err), SW_OK);
  assert_true(fabs(pos[0] - 4) < TOL && fabs(pos[1]) < TOL);
  assert_true(fabs(abs_[0] - 4) < TOL && fabs(abs_[1] - 4) < TOL);
  sw_moe_free(&moe);
}

/* 3 neurons, 4 tokens, groups of 2: h⁺ = (1,2,0) (0.25,0,1) | (0.5,0.5,0) (0,0,0).  Group 1: Σ h0h1 = 2 -> 1,
 * Σ h0h2 = 0.25, Σ h1h2 = 0; group 2: h0h1 = 0.25.  Edge weights: w01 = 1.25, w02 = 0.25, w12 = 0. */
static void test_coact_graph_by_hand(void **state) {
  (void)state;
  float hp[12] = {1, 2, 0, 0.25f, 0, 1, 0.5f, 0.5f, 0, 0, 0, 0}, w[9];
  sw_coact_graph(w, hp, 4, 3, 2);
  const double want[9] = {0, 1.25, 0.25, 1.25, 0, 0, 0.25, 0, 0};
  for (int i = 0; i < 9; i++) assert_true(fabs(w[i] - want[i]) < TOL);
}

/* Planted: neurons {0,3,5,6} fire together on even tokens, {1,2,4,7} on odd tokens (with a weak cross
 * activation); the 2-part split must recover the two sets whatever the greedy seed. */
static void test_coact_partition_planted(void **state) {
  (void)state;
  enum { N = 8, T = 64 };
  static const int in_a[N] = {1, 0, 0, 1, 0, 1, 1, 0};
  float hp[T * N];
  for (int t = 0; t < T; t++)
    for (int i = 0; i < N; i++) hp[t * N + i] = (in_a[i] == (t % 2 == 0)) ? 1.0f + 0.1f * (float)((t + i) % 3) : 0.02f;
  float w[N * N];
  sw_coact_graph(w, hp, T, N, 1);
  sw_coact_cfg_t cfg;
  sw_coact_defaults(&cfg);
  int32_t assign[N];
  sw_err_t err = {0};
  assert_int_equal(sw_coact_partition_graph(assign, w, N, 2, &cfg, &err), SW_OK);
  for (int i = 0; i < N; i++) assert_true((assign[i] == assign[0]) == (in_a[i] == 1));
  assert_int_equal(sw_coact_partition_graph(assign, w, N, 3, &cfg, &err), SW_ERR_INVALID); /* 8 into 3 */
}

/* A greedy split the swaps must repair: two 4-cliques {0,1,2,3} {4,5,6,7} (weight 1) plus a heavy bridge
 * 3-4 (weight 2.5) that seeds the first part across both cliques.  The best balanced split is the cliques. */
static void test_coact_swaps_repair_greedy(void **state) {
  (void)state;
  enum { N = 8 };
  float w[N * N] = {0};
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++)
      if (i != j && (i < 4) == (j < 4)) w[i * N + j] = 1.0f;
  w[3 * N + 4] = w[4 * N + 3] = 2.5f;
  sw_coact_cfg_t cfg;
  sw_coact_defaults(&cfg);
  int32_t assign[N];
  sw_err_t err = {0};
  assert_int_equal(sw_coact_partition_graph(assign, w, N, 2, &cfg, &err), SW_OK);
  for (int i = 0; i < N; i++) assert_true((assign[i] == assign[0]) == (i < 4));
}

/* Masks over E = 4: pred {0,1} {2} {0,1,2,3}, truth {0,2} {2} {1}: recall (1/2 + 1 + 1)/3, precision
 * (1/2 + 1 + 1/4)/3, density (2/4 + 1/4 + 4/4)/3. */
static void test_router_quality_constructed(void **state) {
  (void)state;
  sw_mask_t p, t;
  sw_err_t err = {0};
  assert_int_equal(sw_mask_alloc(&p, 4, 3, &err), SW_OK);
  assert_int_equal(sw_mask_alloc(&t, 4, 3, &err), SW_OK);
  const int32_t pi[7] = {0, 1, 2, 0, 1, 2, 3}, ti[3] = {0, 2, 2};
  const int64_t po[4] = {0, 2, 3, 7}, to[4] = {0, 2, 3, 4};
  memcpy(p.idx, pi, sizeof pi), memcpy(p.off, po, sizeof po);
  memcpy(t.idx, ti, sizeof ti), memcpy(t.off, to, sizeof to);
  t.idx[3] = 1;
  p.n_tok = t.n_tok = 3;
  sw_router_quality_t q;
  assert_int_equal(sw_router_quality(&q, &p, &t, 4), SW_OK);
  assert_true(fabs(q.recall - 2.5 / 3) < 1e-12);
  assert_true(fabs(q.precision - 1.75 / 3) < 1e-12);
  assert_true(fabs(q.density - 1.75 / 3) < 1e-12);
  sw_mask_free(&p);
  sw_mask_free(&t);
}

/* G = (0.8, 0.3), K = [[4,1],[1,2]], η = 1, λ = 0.5, τ = 0.5:
 * task = ((-0.2)²·4 + 2·(-0.2)(-0.7)·1 + (-0.7)²·2) / 8 = 1.42/8 = 0.1775; eff = (0.64 + 0.09)/2 = 0.365;
 * sep = (1/0.09 + 1/0.04)/2 = 18.0556; L = 0.1775 + 0.365 + 0.5·18.0556 = 9.57028 (ε = 1e-6 moves it by 3e-6
 * relative).  The gradient matches central differences. */
static void test_lte_loss_by_hand(void **state) {
  (void)state;
  float G[2] = {0.8f, 0.3f}, K[4] = {4, 1, 1, 2};
  double dG[2];
  double L = sw_lte_token_loss(dG, G, K, 2, 1.0, 0.5);
  double want = 1.42 / 8 + 0.365 + 0.5 * (1 / 0.09 + 1 / 0.04) / 2;
  assert_true(fabs(L - want) < 1e-4 * want);
  for (int e = 0; e < 2; e++) {
    const float h = 1e-3f;
    float Gp[2] = {G[0], G[1]}, Gm[2] = {G[0], G[1]};
    Gp[e] += h, Gm[e] -= h;
    double fd = (sw_lte_token_loss(NULL, Gp, K, 2, 1.0, 0.5) - sw_lte_token_loss(NULL, Gm, K, 2, 1.0, 0.5)) /
                ((double)Gp[e] - Gm[e]);
    assert_true(fabs(fd - dG[e]) < 1e-2 * fabs(dG[e]) + 1e-3);
  }
}

/* A gated SiLU FFN (d 16, d_ff 64, 8 experts by k-means) and n tokens of random inputs. */
typedef struct small {
  float           *g, *u, *dn, *x;
  sw_ffn_weights_t w;
  sw_moe_t         moe;
  int              n;
} small_t;

static void small_init(small_t *s, int n) {
  enum { D = 16, F = 64, E = 8 };
  sw_mlp_rng_t r = {7};
  s->n = n;
  s->g = malloc(D * F * sizeof(float)), s->u = malloc(D * F * sizeof(float)), s->dn = malloc(D * F * sizeof(float));
  s->x = malloc((size_t)n * D * sizeof(float));
  for (int i = 0; i < D * F; i++)
    s->g[i] = (float)(0.25 * sw_mlp_rng_normal(&r)), s->u[i] = (float)(0.25 * sw_mlp_rng_normal(&r)),
    s->dn[i] = (float)(0.125 * sw_mlp_rng_normal(&r));
  for (int i = 0; i < n * D; i++) s->x[i] = (float)sw_mlp_rng_normal(&r);
  s->w = view(D, F, 1, SW_ACT_SILU, s->g, s->u, s->dn);
  int32_t assign[F];
  sw_err_t err = {0};
  assert_int_equal(sw_moe_partition(assign, &s->w, SW_PARTITION_BALANCED_KMEANS, E, NULL, 3, &err), SW_OK);
  assert_int_equal(sw_moe_build(&s->moe, &s->w, assign, E, &err), SW_OK);
}

static void small_free(small_t *s) {
  sw_moe_free(&s->moe);
  free(s->g), free(s->u), free(s->dn), free(s->x);
}

/* c_e in float64 from the ORIGINAL gate rows: mean over the expert's neurons of row / ‖row‖. */
static void ref_centre(double *c, const small_t *s, int e) {
  const int d = s->w.d_model;
  memset(c, 0, (size_t)d * sizeof *c);
  int cnt = 0;
  for (int i = 0; i < s->w.d_ff; i++) {
    if (s->moe.assign[i] != e) continue;
    double nn = 0;
    for (int k = 0; k < d; k++) nn += (double)s->g[i * d + k] * s->g[i * d + k];
    for (int k = 0; k < d; k++) c[k] += s->g[i * d + k] / sqrt(nn);
    cnt++;
  }
  for (int k = 0; k < d; k++) c[k] /= cnt;
}

/* float64 E_e(x)[k] = Σ_{i∈e} SiLU(g_i·x)(u_i·x) down_i[k] from the ORIGINAL weights. */
static void ref_expert_out(double *y, const small_t *s, const float *x, int e) {
  const int d = s->w.d_model;
  memset(y, 0, (size_t)d * sizeof *y);
  for (int i = 0; i < s->w.d_ff; i++) {
    if (s->moe.assign[i] != e) continue;
    double g = 0, u = 0;
    for (int k = 0; k < d; k++) g += (double)s->g[i * d + k] * x[k], u += (double)s->u[i * d + k] * x[k];
    double h = g / (1.0 + exp(-g)) * u;
    for (int k = 0; k < d; k++) y[k] += h * s->dn[i * d + k];
  }
}

/* The Gram matrices of LTE's task loss: K_ef = E_e(x)·E_f(x) against float64 expert outputs (40 tokens, so the
 * 32-token chunks of sw_moe_expert_gram are crossed). */
static void test_expert_gram(void **state) {
  (void)state;
  small_t s;
  small_init(&s, 40);
  const int E = 8, d = 16;
  float *K = malloc((size_t)s.n * E * E * sizeof *K);
  sw_err_t err = {0};
  assert_int_equal(sw_moe_expert_gram(K, &s.moe, s.x, s.n, &err), SW_OK);
  double ye[16], yf[16];
  for (int t = 0; t < s.n; t += 13)
    for (int e = 0; e < E; e++)
      for (int f = 0; f < E; f++) {
        ref_expert_out(ye, &s, s.x + t * d, e), ref_expert_out(yf, &s, s.x + t * d, f);
        double dot = 0;
        for (int k = 0; k < d; k++) dot += ye[k] * yf[k];
        assert_true(fabs(K[((size_t)t * E + e) * E + f] - dot) < 1e-4 * (1.0 + fabs(dot)));
      }
  free(K);
  small_free(&s);
}

/* Untrained (0 epochs), MoEfication's router is Linear(centres) -> tanh -> Linear(identity). */
static void test_moefication_router_init(void **state) {
  (void)state;
  small_t s;
  small_init(&s, 40);
  sw_moe_router_cfg_t cfg;
  sw_moe_router_defaults(&cfg);
  cfg.train.epochs = 0;
  sw_moe_router_t r;
  sw_err_t err = {0};
  assert_int_equal(sw_moe_router_train(&r, SW_MOE_ROUTER_MOEFICATION, &s.moe, s.x, s.n, &cfg, NULL, &err), SW_OK);
  const int E = 8, d = 16;
  double c[16];
  for (int e = 0; e < E; e++) {
    ref_centre(c, &s, e);
    for (int k = 0; k < d; k++) assert_true(fabs(r.mlp.layer[0].w[e * d + k] - c[k]) < TOL);
    for (int f = 0; f < E; f++) assert_true(r.mlp.layer[1].w[e * E + f] == (e == f ? 1.0f : 0.0f));
  }
  assert_true(r.mlp.layer[0].b == NULL && r.mlp.layer[1].b == NULL && r.mlp.layer[0].act == SW_MLP_ACT_TANH);
  sw_moe_router_free(&r);
  small_free(&s);
}

/* Similarity scores = −‖x/‖x‖ − c_e‖₂ in float64; and a trained MoEfication router captures more of the held-out
 * positive mass with its top 2 of 8 experts than a random scorer does. */
static void test_similarity_and_trained_router(void **state) {
  (void)state;
  small_t s;
  small_init(&s, 400);
  const int E = 8, d = 16;
  sw_moe_router_cfg_t cfg;
  sw_moe_router_defaults(&cfg);
  cfg.train.epochs = 30, cfg.train.lr = 1e-2, cfg.train.batch = 64, cfg.val_frac = 0.1;
  sw_moe_router_t sim, mlp;
  sw_err_t err = {0};
  assert_int_equal(sw_moe_router_train(&sim, SW_MOE_ROUTER_SIMILARITY, &s.moe, s.x, s.n, &cfg, NULL, &err), SW_OK);
  assert_int_equal(sw_moe_router_train(&mlp, SW_MOE_ROUTER_MOEFICATION, &s.moe, s.x, s.n, &cfg, NULL, &err), SW_OK);
  sw_moe_work_t work;
  assert_int_equal(sw_moe_work_alloc(&work, &s.moe, &mlp, s.n, &err), SW_OK);
  float *sc = malloc((size_t)s.n * E * sizeof(float)), *mass = malloc((size_t)s.n * E * sizeof(float));
  assert_int_equal(sw_moe_router_scores(sc, &sim, &s.moe, s.x, s.n, &work), SW_OK);
  double c[16];
  for (int e = 0; e < E; e++) {
    ref_centre(c, &s, e);
    for (int t = 0; t < 5; t++) {
      double nx = 0, dist = 0;
      for (int k = 0; k < d; k++) nx += (double)s.x[t * d + k] * s.x[t * d + k];
      for (int k = 0; k < d; k++) dist += pow(s.x[t * d + k] / sqrt(nx) - c[k], 2);
      assert_true(fabs(sc[t * E + e] + sqrt(dist)) < 1e-4);
    }
  }
  int held = s.n - sw_moe_router_n_train(s.n, 0.1);
  const float *xv = s.x + (size_t)(s.n - held) * d;
  assert_int_equal(sw_moe_mass(mass, &s.moe, xv, held, 1, &err), SW_OK);
  assert_int_equal(sw_moe_router_scores(sc, &mlp, &s.moe, xv, held, &work), SW_OK);
  double got = sw_moefy_mass_captured(sc, mass, held, E, 2);
  sw_mlp_rng_t r = {11};
  for (int i = 0; i < held * E; i++) sc[i] = (float)sw_mlp_rng_uniform(&r);
  double rnd = sw_moefy_mass_captured(sc, mass, held, E, 2);
  print_message("mass captured by the top 2 of 8: trained %.3f, random %.3f\n", got, rnd);
  assert_true(got > rnd + 0.1);
  assert_true(mlp.train.best_epoch < 30 && isfinite(mlp.train.best_score));
  free(sc), free(mass);
  sw_moe_work_free(&work);
  sw_moe_router_free(&sim);
  sw_moe_router_free(&mlp);
  small_free(&s);
}

/* Best epoch: a validation score that peaks at epoch 2 of 5 keeps exactly the parameters seen then. */
typedef struct peak {
  int    calls;
  float *snap;
  size_t n;
} peak_t;

static double peak_score(const sw_mlp_t *mlp, void *ctx) {
  peak_t *p = ctx;
  static const double sc[5] = {0.1, 0.4, 0.9, 0.3, 0.5};
  if (p->calls == 2) memcpy(p->snap, mlp->params, p->n * sizeof(float));
  return sc[p->calls++ % 5];
}

static void test_best_epoch_kept(void **state) {
  (void)state;
  const size_t dims[2] = {4, 3};
  const sw_mlp_act_t act = SW_MLP_ACT_NONE;
  sw_mlp_t m;
  sw_err_t err = {0};
  assert_int_equal(sw_mlp_init(&m, dims, &act, 1, 1, 5, &err), SW_OK);
  float x[40], t[30];
  sw_mlp_rng_t r = {2};
  for (int i = 0; i < 40; i++) x[i] = (float)sw_mlp_rng_normal(&r);
  for (int i = 0; i < 30; i++) t[i] = (float)sw_mlp_rng_normal(&r);
  sw_mlp_train_cfg_t cfg;
  sw_mlp_train_defaults(&cfg);
  cfg.epochs = 5, cfg.batch = 4, cfg.lr = 0.05;
  peak_t p = {0, malloc(m.n_params * sizeof(float)), m.n_params};
  cfg.epoch_score = peak_score, cfg.ctx = &p;
  sw_mlp_train_stats_t st;
  assert_int_equal(sw_mlp_train(&m, x, t, 10, &cfg, &st, &err), SW_OK);
  assert_int_equal(p.calls, 5);
  assert_int_equal(st.best_epoch, 2);
  assert_true(st.best_score == 0.9);
  assert_memory_equal(m.params, p.snap, m.n_params * sizeof(float));
  free(p.snap);
  sw_mlp_free(&m);
}

/* LTE: a larger efficiency weight η gives a sparser router (fewer G > 0.5).  LTE's router has no bias, so on
 * zero-mean inputs half of its scores exceed 0.5 whatever it learns; the fixture's first input channel is a
 * constant 1 (the hidden states of a language model have such large-mean channels). */
static double lte_density(const small_t *s, double eta) {
  sw_moe_router_cfg_t cfg;
  sw_moe_router_defaults(&cfg);
  cfg.train.epochs = 60, cfg.train.lr = 1e-2, cfg.train.batch = 32, cfg.val_frac = 0.2, cfg.lte_eta = eta;
  sw_moe_router_t r;
  sw_err_t err = {0};
  assert_int_equal(sw_moe_router_train(&r, SW_MOE_ROUTER_LTE, &s->moe, s->x, s->n, &cfg, NULL, &err), SW_OK);
  sw_moe_work_t work;
  sw_mask_t m;
  assert_int_equal(sw_moe_work_alloc(&work, &s->moe, &r, s->n, &err), SW_OK);
  assert_int_equal(sw_mask_alloc(&m, 8, s->n, &err), SW_OK);
  assert_int_equal(sw_moe_router_scores(work.scores, &r, &s->moe, s->x, s->n, &work), SW_OK);
  assert_int_equal(sw_moe_select(&m, work.scores, SW_MOE_SELECT_SCORE, 0, SW_MOE_LTE_TAU, 0, &work, s->n), SW_OK);
  double dens = (double)m.off[s->n] / (8.0 * s->n);
  sw_mask_free(&m);
  sw_moe_work_free(&work);
  sw_moe_router_free(&r);
  return dens;
}

static void test_lte_eta_controls_sparsity(void **state) {
  (void)state;
  small_t s;
  small_init(&s, 200);
  for (int t = 0; t < s.n; t++) s.x[t * s.w.d_model] = 1.0f;
  double lo = lte_density(&s, 0.01), mid = lte_density(&s, 1.0), hi = lte_density(&s, 20.0);
  print_message("LTE predicted density: eta 0.01 %.3f, eta 1 %.3f, eta 20 %.3f\n", lo, mid, hi);
  assert_true(hi < mid && mid < lo);
  small_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_router_target_by_hand),   cmocka_unit_test(test_positive_mass_of_gated_h),
      cmocka_unit_test(test_coact_graph_by_hand),     cmocka_unit_test(test_coact_partition_planted),
      cmocka_unit_test(test_coact_swaps_repair_greedy), cmocka_unit_test(test_router_quality_constructed),
      cmocka_unit_test(test_lte_loss_by_hand),        cmocka_unit_test(test_moefication_router_init),
      cmocka_unit_test(test_similarity_and_trained_router), cmocka_unit_test(test_best_epoch_kept),
      cmocka_unit_test(test_lte_eta_controls_sparsity), cmocka_unit_test(test_expert_gram),
  };
  return cmocka_run_group_tests_name("moefy", tests, NULL, NULL);
}
