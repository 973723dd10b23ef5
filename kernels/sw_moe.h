/* sw_moe: the MoE view of an FFN (MoEfication, Zhang et al. 2022; D2DMoE, Szatkowski et al. 2024; LTE,
 * Zheng et al. 2024; docs/methods.md §2, §3, §7).  Expert e is a group of d_ff/E neurons, its weights copied in
 * expert order (f32, neuron-major): E_e(x) = Σ_{i∈e} h_i(x) down_i, FFN(x) = Σ_e E_e(x) + b_down.  Routers
 * score experts (oracle norms, D2DMoE regression MLP, MoEfication-style classifier); selection rules turn the
 * scores into a per-token expert mask (static top-k, dynamic-k by max ratio or cumulative share, sigmoid > τ);
 * the batched forward groups each expert's tokens and runs one sgemm per expert and projection. */
#ifndef SW_MOE_H
#define SW_MOE_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "kernels/sw_ffn.h"
#include "kernels/sw_kmeans.h"
#include "kernels/sw_mlp.h"

/* An FFN in expert order.  Owns its storage (sw_moe_free). */
typedef struct sw_moe {
  int      d_model, d_ff;
  int      n_expert, expert_size; /* d_ff = n_expert * expert_size */
  int      gated;
  sw_act_t act;
  float    act_param;
  float   *gu;     /* expert blocks: expert e owns rows [e*R, (e+1)*R) of d_model floats, R = 2*expert_size
                      (gated: its gate rows then its up rows, so one GEMM computes both) or expert_size (plain:
                      up rows); row r of expert e is original neuron perm[e*expert_size + r] */
  float   *down;   /* [d_ff][d_model] neuron-major down rows in expert order */
  float   *b_up;   /* [d_ff] permuted, or NULL */
  float   *b_down; /* [d_model] or NULL (not part of any expert: always added) */
  size_t  *perm;   /* [d_ff]: original neuron index at expert-order position j */
  int32_t *assign; /* [d_ff]: expert of original neuron i */
} sw_moe_t;

/* Partitions w's neurons into n_expert experts by clustering the gate rows (gated; LTE and D2DMoE on Gemma)
 * or the up rows (plain; W1 columns in MoEfication).  assign[d_ff] receives the expert ids. */
sw_rc sw_moe_partition(int32_t *assign, const sw_ffn_weights_t *w, sw_partition_t kind, int n_expert,
                       const sw_kmeans_cfg_t *cfg, uint64_t seed, sw_err_t *err);
/* Builds the expert-ordered copy of w (any dtype; bf16 is widened to f32) from a partition. */
sw_rc sw_moe_build(sw_moe_t *moe, const sw_ffn_weights_t *w, const int32_t *assign, int n_expert, sw_err_t *err);
void  sw_moe_free(sw_moe_t *moe);

/* ---- routers ---- */
typedef enum sw_moe_router_kind {
  SW_MOE_ROUTER_ORACLE     = 0, /* ĝ_e = ‖E_e(x)‖₂ computed exactly (all experts run: a quality upper bound) */
  SW_MOE_ROUTER_MLP        = 1, /* D2DMoE: d→128→E, ReLU, abs output, no bias, MSE on ‖E_e(x)‖₂, Adam */
  SW_MOE_ROUTER_CLASSIFIER = 2, /* MoEfication-shaped classifier of earlier versions: d→E→E (tanh), sigmoid, BCE
                                   on Σ_{i∈e}|h_i| divided by the token's largest expert mass (not the paper's
                                   target: kept for the synthetic workload's LTE-style rows) */
  SW_MOE_ROUTER_GT         = 3, /* MoEfication's ground-truth selection: ĝ_e = Σ_{i∈e} max(h_i, 0), the expert's
                                   positive activation mass, computed exactly (gate/up of every expert run) */
  SW_MOE_ROUTER_SIMILARITY = 4, /* MoEfication's similarity selection (training-free): ĝ_e = −‖x̂ − c_e‖₂, x̂ = x/‖x‖₂,
                                   c_e = mean of the L2-normalised gate (gated) or up rows of the expert's neurons */
  SW_MOE_ROUTER_MOEFICATION = 5,/* MoEfication's MLP selection: x̂ → Linear(d,E) initialised with the c_e → tanh →
                                   Linear(E,E) initialised to the identity, no bias; BCE-with-logits on the positive
                                   mass divided by its maximum over the mini-batch (kernels/sw_moefy.h) */
  SW_MOE_ROUTER_LTE        = 6  /* LTE: G_e(x) = sigmoid(x·W_g,e), one linear layer without bias, trained with the
                                   efficiency + separability objective (kernels/sw_lte.h) */
} sw_moe_router_kind_t;

/* LTE's fixed selection threshold on the sigmoid scores (Zheng et al. 2024, arXiv 2402.06126, §3: τ = 0.5). */
#define SW_MOE_LTE_TAU 0.5

/* "oracle" | "mlp" | "classifier" | "ground_truth" | "similarity" | "moefication" | "lte" */
sw_rc       sw_moe_router_parse(sw_moe_router_kind_t *kind, const char *name, sw_err_t *err);
const char *sw_moe_router_name(sw_moe_router_kind_t kind);

typedef struct sw_moe_router {
  sw_moe_router_kind_t kind;
  int                  d_model, n_expert;
  sw_mlp_t             mlp;       /* MLP, CLASSIFIER, MOEFICATION (zero otherwise) */
  float               *centres;   /* SIMILARITY: [E][d_model] expert centres c_e (owned) */
  sw_mlp_train_stats_t train;     /* of the last training (zero for untrained kinds) */
} sw_moe_router_t;

/* 1 when a router kind is trained (MLP, CLASSIFIER, MOEFICATION). */
int sw_moe_router_trained(sw_moe_router_kind_t kind);
/* 1 when a router's input is L2-normalised first (SIMILARITY, MOEFICATION). */
int sw_moe_router_normalises(sw_moe_router_kind_t kind);

typedef struct sw_moe_router_cfg {
  int                hidden;   /* MLP router width (D2DMoE: 128) */
  sw_mlp_train_cfg_t train;    /* loss is set by the router kind */
  uint64_t           seed;     /* weight initialisation */
  double             lte_eta;    /* LTE: weight η of the efficiency loss (higher: sparser) */
  double             lte_lambda; /* LTE: weight λ of the separability loss (paper: 0.5) */
  double             lte_sep_warmup; /* LTE: fraction of the first steps trained without L_sep (kernels/sw_lte.h) */
  double             val_frac; /* trained routers: the last floor(n·val_frac) tokens are held out, the router is
                                  trained on the others and the epoch that scores best on them is kept (0: none;
                                  MoEfication: 0.1) */
} sw_moe_router_cfg_t;

/* Defaults: hidden 128, Adam lr 1e-3, batch 64, 20 epochs, no validation split. */
void sw_moe_router_defaults(sw_moe_router_cfg_t *cfg);

/* Training targets of n_tok tokens x[n_tok][d_model]: norms[t*E+e] = ‖E_e(x_t)‖₂ and mass[t*E+e] =
 * Σ_{i∈e}|h_i(x_t)| / max_e' Σ_{i∈e'}|h_i(x_t)| (0 for an all-zero token).  Either output may be NULL.
 * Float64 accumulation; allocates. */
sw_rc sw_moe_targets(float *norms, float *mass, const sw_moe_t *moe, const float *x, int n_tok, sw_err_t *err);

/* Raw per-expert mass of n_tok tokens: mass[t*E+e] = Σ_{i∈e} max(h_i(x_t), 0) (positive = 1, MoEfication's
 * target and ground-truth score) or Σ_{i∈e} |h_i(x_t)| (positive = 0).  Float64 accumulation; allocates. */
sw_rc sw_moe_mass(float *mass, const sw_moe_t *moe, const float *x, int n_tok, int positive, sw_err_t *err);

/* K[t][E][E]: the Gram matrix of the expert outputs of each token, K_ef = E_e(x_t)·E_f(x_t) (one sgemm per token).
 * Allocates a workspace. */
sw_rc sw_moe_expert_gram(float *K, const sw_moe_t *moe, const float *x, int n_tok, sw_err_t *err);

/* Creates a router; MLP and CLASSIFIER are trained on x[n_tok][d_model] (targets from sw_moe_targets).
 * stats may be NULL.  Free with sw_moe_router_free. */
sw_rc sw_moe_router_train(sw_moe_router_t *r, sw_moe_router_kind_t kind, const sw_moe_t *moe, const float *x,
                          int n_tok, const sw_moe_router_cfg_t *cfg, sw_mlp_train_stats_t *stats, sw_err_t *err);
void  sw_moe_router_free(sw_moe_router_t *r);
/* Tokens a router trains on out of n_tok under cfg's validation split (the rest, at the end, are held out). */
int sw_moe_router_n_train(int n_tok, double val_frac);
/* Router FLOPs per token (ORACLE: the dense FFN's FLOPs, since it runs every expert to measure norms; GT: the
 * gate and up projections of every expert). */
double sw_moe_router_flops(const sw_moe_router_t *r, const sw_moe_t *moe);

/* ---- selection ---- */
typedef enum sw_moe_select {
  SW_MOE_SELECT_TOPK     = 0, /* the k highest scores (ties: lower expert id first) */
  SW_MOE_SELECT_DYNK_MAX = 1, /* run e iff ĝ_e >= τ·max ĝ; τ = 0 runs all; if max ĝ <= 0 and τ > 0 only the
                                 first argmax runs; τ >= 1 runs only the first argmax */
  SW_MOE_SELECT_DYNK_CUM = 2, /* shortest prefix of descending shares ĝ_e/Σĝ with cumulative share >= τ;
                                 always >= 1 expert */
  SW_MOE_SELECT_SCORE    = 3  /* LTE: run e iff score > τ; scores of a CLASSIFIER router are sigmoid
                                 probabilities, other routers' scores are divided by their per-token max */
} sw_moe_select_t;

/* "topk" | "dynk_max" | "dynk_cum" | "score" */
sw_rc       sw_moe_select_parse(sw_moe_select_t *sel, const char *name, sw_err_t *err);
const char *sw_moe_select_name(sw_moe_select_t sel);

/* Workspace for max_tok tokens: router scores, selection scratch and the per-expert token groups. */
typedef struct sw_moe_work {
  int      max_tok, d_model, expert_size, n_expert;
  float   *scores;  /* [max_tok * E] */
  float   *mlp_ws;  /* router MLP workspace */
  float   *xg;      /* [max_tok * d_model] gathered inputs of one expert */
  float   *g;       /* [max_tok * 2 * expert_size] gate|up products of one expert */
  float   *u;       /* [max_tok * expert_size] intermediates h */
  float   *yg;      /* [max_tok * d_model] one expert's outputs */
  int32_t *grp_off; /* [E + 1] token-group offsets */
  int32_t *grp_tok; /* [max_tok * E] tokens of each expert, grouped */
  uint8_t *flag;    /* [E] */
  void    *pairs;   /* [E] (score, id) pairs for sorting */
  size_t   mlp_ws_n;
  void    *mem;
  sw_isa_t isa; /* SIMD variant of the gathered expert kernels (resolved at alloc, like sw_ffn_work_t.isa) */
} sw_moe_work_t;

/* router may be NULL (no MLP workspace).  Free with sw_moe_work_free. */
sw_rc sw_moe_work_alloc(sw_moe_work_t *work, const sw_moe_t *moe, const sw_moe_router_t *router, int max_tok,
                        sw_err_t *err);
void  sw_moe_work_free(sw_moe_work_t *work);

/* scores[t*E+e] for n_tok tokens into work->scores (ORACLE: exact expert output norms; MLP: regression
 * output; CLASSIFIER: sigmoid probabilities).  No allocation. */
sw_rc sw_moe_router_scores(float *scores, const sw_moe_router_t *r, const sw_moe_t *moe, const float *x, int n_tok,
                           sw_moe_work_t *work);

/* Turns scores[n_tok][E] into mask (n_units must equal E, max_tok >= n_tok).  k for TOPK, tau otherwise;
 * normalise_scores = 1 divides each token's scores by its max before SCORE thresholding.  No allocation. */
sw_rc sw_moe_select(sw_mask_t *mask, const float *scores, sw_moe_select_t sel, int k, double tau,
                    int normalise_scores, sw_moe_work_t *work, int n_tok);

/* ---- execution ---- */
/* Batched: out[t] = Σ_{e∈mask_t} E_e(x_t) + b_down.  Tokens are grouped per expert; a group of one runs
 * sgemv, a group of 2..8 tokens streams the expert's rows 4 at a time once and reuses them for each token,
 * larger groups run one sgemm per projection (gate|up fused, then down).  stats (may be NULL) is overwritten
 * with this call's counters (no router cost: see sw_moe_forward_routed).  No allocation. */
sw_rc sw_moe_forward(float *out, const float *x, const sw_moe_t *moe, const sw_mask_t *mask, sw_ffn_stats_t *stats,
                     sw_moe_work_t *work, int n_tok);
/* Per-token reference path: for each token, each selected expert with sgemv.  Same result and stats. */
sw_rc sw_moe_forward_per_token(float *out, const float *x, const sw_moe_t *moe, const sw_mask_t *mask,
                               sw_ffn_stats_t *stats, sw_moe_work_t *work, int n_tok);

/* Router scores and selection only (the first half of sw_moe_forward_routed): mask receives the experts. */
sw_rc sw_moe_route(sw_mask_t *mask, const float *x, const sw_moe_t *moe, const sw_moe_router_t *r, sw_moe_select_t sel,
                   int k, double tau, sw_moe_work_t *work, int n_tok);
/* Router + selection + batched execution in one call; mask receives the selection; the router's FLOPs
 * and weight bytes are added to stats (flops_select). */
sw_rc sw_moe_forward_routed(float *out, sw_mask_t *mask, const float *x, const sw_moe_t *moe,
                            const sw_moe_router_t *r, sw_moe_select_t sel, int k, double tau, sw_ffn_stats_t *stats,
                            sw_moe_work_t *work, int n_tok);

#endif
