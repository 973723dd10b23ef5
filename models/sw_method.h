/* sw_method: a per-layer FFN method for sw_llama (the sw_llama_ffn_t hook): dense, the kernels' neuron
 * policies (oracle top-k, CATS, CHESS, CETT, random), TEAL input thresholds, MoE conversions (D2DMoE
 * regression router + dynamic-k, MoEfication classifier router + top-k) and the Deja Vu predictor, with an
 * optional activation replacement (SiLU -> ReLU, ReLU², FATReLU: a change of the model, no fine-tuning).
 * Layers outside the method's layer set run dense.  A layer whose calibrated method would keep every
 * neuron (level 0) runs the dense kernel itself, so sparsity 0 reproduces dense results bit for bit.
 * Per-layer counters accumulate (sw_ffn_stats_t); sparsity is reported as docs/methods.md §1 definition 1
 * (fraction of the d_ff intermediate neurons not computed) for every method except TEAL, whose number is
 * definition 3 (input sparsity of q, k, v, o, gate, up, down weighted by matrix size; TEAL greedyopt.py).
 * TEAL's and CHESS's attention-input sparsity is simulated (inputs zeroed, projections still dense): it changes
 * quality and the analytic FLOPs, not the measured time.  CHESS with attention (He et al. 2024, selective
 * attention sparsification) zeroes the q_proj input (a copy: k and v read the dense input, protecting the KV
 * cache) and the o_proj input below per-layer thresholds quantile_s(|x|) from the dense calibration inputs. */
#ifndef SW_METHOD_H
#define SW_METHOD_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "kernels/sw_ffn.h"
#include "kernels/sw_moe.h"
#include "kernels/sw_policy.h"
#include "kernels/sw_predictor.h"
#include "models/sw_llama.h"

typedef enum sw_method_kind {
  SW_METHOD_DENSE = 0,
  SW_METHOD_TOPK = 1,        /* oracle top-k by |h_i| at sparsity s */
  SW_METHOD_CATS = 2,        /* per-layer threshold on |act(gate)| (Lee et al. 2024) */
  SW_METHOD_CHESS = 3,       /* per-channel thresholds (He et al. 2024) */
  SW_METHOD_CETT = 4,        /* per-layer ε so that mean CETT = level (Zhang et al. 2024) */
  SW_METHOD_RANDOM = 5,      /* random neurons at sparsity s (control) */
  SW_METHOD_TEAL = 6,        /* thresholds on the FFN input and on h (Liu et al. 2024), uniform s */
  SW_METHOD_D2DMOE = 7,      /* experts + MLP regression router + dynk_max with τ = level */
  SW_METHOD_MOEFICATION = 8, /* experts + classifier router + static top-k at expert sparsity s */
  SW_METHOD_DEJAVU = 9,      /* low-rank predictor + top-k neurons at sparsity s */
  SW_METHOD_LTE = 10,        /* experts + LTE sigmoid router (efficiency + separability loss), run e iff G_e > 0.5;
                                level = η, the efficiency-loss weight */
  SW_METHOD_POWERINFER = 11, /* MLP predictor with ReLU (Song et al. 2024); neurons whose logit >= pred_logit_thr run;
                                level s sets the label: active iff |h_i| > the s-quantile of |h| (calibration) */
  SW_METHOD_COUNT
} sw_method_kind_t;

/* "dense", "topk", "cats", "chess", "cett", "random", "teal", "d2dmoe", "moefication", "dejavu", "lte", "powerinfer". */
const char *sw_method_name(sw_method_kind_t kind);
sw_rc       sw_method_parse(const char *name, sw_method_kind_t *kind, sw_err_t *err);
/* The sparsity definition (docs/methods.md §1) a method's reported sparsity uses: 1, 3 (TEAL, model-wide) or 4
 * (the MoE methods: fraction of (token, expert) pairs not executed). */
int sw_method_sparsity_definition(sw_method_kind_t kind);

#define SW_METHOD_MAX_LAYERS 1024
#define SW_METHOD_TOK_BINS 1000

typedef struct sw_method_cfg {
  sw_method_kind_t kind;
  double   level;       /* sparsity s in [0,1]; CETT: target CETT in [0,1); D2DMoE: τ in [0,1] */
  sw_act_t act;         /* FFN activation (default: the model file's, sw_llama_config_t.act) */
  float    act_param;   /* FATReLU threshold */
  uint8_t  layers[SW_METHOD_MAX_LAYERS]; /* 1 = sparsify this layer (others run dense) */
  int      n_expert;    /* MoE: experts per layer (d_ff must be divisible); default d_ff/32 */
  int      pred_rank;   /* Deja Vu predictor rank, PowerInfer hidden size; default 64 */
  int      train_epochs;/* predictor epochs (at most: early stopping may end sooner); default 20 */
  /* Predictor training (Deja Vu and PowerInfer; kernels/sw_predictor.h sw_predictor_dejavu_defaults) */
  double   pred_lr, pred_weight_decay, pred_val_frac, pred_stop_recall;
  int      pred_batch, pred_patience;
  int      pred_lookahead;   /* 1: layer l's predictor reads layer l-1's FFN input (Deja Vu's lookahead; layer 0
                                reads its own) */
  double   pred_logit_thr;   /* PowerInfer: a neuron runs iff its predicted logit >= this (default 0) */
  uint64_t seed;        /* clustering, router and random-policy seed */
  /* MoE methods (D2DMoE, MoEfication, LTE): expert split, router, selection rule and router training */
  sw_partition_t       moe_split;   /* default balanced k-means on the gate rows */
  sw_moe_router_kind_t moe_router;  /* D2DMoE: mlp; MoEfication: moefication; LTE: lte */
  sw_moe_select_t      moe_select;  /* D2DMoE: dynk_max (level = τ); MoEfication: topk (level = experts skipped);
                                       LTE: score (τ = 0.5, level = η) */
  int      router_epochs;           /* 0 = the router's paper default (sw_method_router_defaults) */
  double   router_lr;               /* 0 = paper default */
  int      router_batch;            /* 0 = paper default */
  double   router_val_frac;         /* held-out fraction of the calibration tokens (default 0.1) */
  sw_method_kind_t moe_defaults_for; /* the kind whose MoE defaults the fields hold (sw_method_moe_defaults);
                                        sw_method_init fills a MoE kind's defaults when it differs */
  int      teal_greedy; /* TEAL: 1 = greedy block-wise allocation (models/sw_teal_alloc.h), 0 = uniform */
  int      chess_attention; /* CHESS: 1 also thresholds the q_proj and o_proj inputs per layer ("CHESS w/"),
                               0 the FFN channels only ("CHESS w/o"); k_proj/v_proj inputs always stay dense */
  int      teal_signed_cdf; /* TEAL threshold rule: 0 the s-quantile of |x| (P(|x| <= t) = s, the paper's aim),
                               1 F⁻¹(0.5 + s/2) of the signed distribution (TEAL's code; assumes symmetry) */

} sw_method_cfg_t;

/* 1 for the MoE methods (experts + router). */
int sw_method_is_moe(sw_method_kind_t kind);
/* 1 for the predictor methods (Deja Vu, PowerInfer). */
int sw_method_is_predictor(sw_method_kind_t kind);
/* Fills the MoE fields of cfg with cfg->kind's defaults (split, router, selection, router training); call it
 * after setting kind and before changing a MoE field. */
void sw_method_moe_defaults(sw_method_cfg_t *cfg);
/* The router training a cfg asks for: its explicit values, else the router's paper defaults (MoEfication
 * MLPCenter: Adam lr 1e-2, batch 512, 30 epochs; D2DMoE: lr 1e-3, batch 64, 10 epochs; LTE: lr 1e-3, batch
 * 64, 10 epochs), the validation fraction and seed. */
void sw_method_router_cfg(sw_moe_router_cfg_t *rc, const sw_method_cfg_t *cfg, int layer);

/* Defaults for a model: dense, the model's activation, all layers, n_expert d_ff/32, rank 64, Deja Vu's predictor trainer
 * (20 epochs at most, AdamW lr 1e-3, wd 0.01, batch 64, 5 % validation, stop at recall 0.99 or after 5 epochs
 * without improvement), seed 1. */
void sw_method_cfg_defaults(sw_method_cfg_t *cfg, const sw_llama_config_t *mc);
/* Parses a layer list "all" | "0,3,5-9" into cfg->layers for n_layer layers. */
sw_rc sw_method_parse_layers(sw_method_cfg_t *cfg, const char *spec, int n_layer, sw_err_t *err);

typedef struct sw_method_layer {
  sw_ffn_weights_t w;       /* the model's FFN view with this method's activation */
  int              sparse;  /* 0: the layer runs the dense kernel */
  sw_policy_t      policy;  /* TOPK/CATS/CHESS/CETT/RANDOM */
  float            teal_tx, teal_th; /* TEAL thresholds on |x| (gate/up input) and |h| (down input); < 0 keeps all */
  float            teal_ta[SW_LLAMA_SITES]; /* TEAL thresholds on the q/k/v input and the o_proj input */
  float            chess_ta[SW_LLAMA_SITES]; /* CHESS attention: per-layer quantile_s(|x|) of the q_proj input (site
                                                QKV, applied to q's own copy) and of the o_proj input; < 0 keeps all */
  int              has_moe;
  sw_moe_t         moe;     /* D2DMOE/MOEFICATION */
  sw_moe_router_t  router;
  /* held-out router quality (the last router_val_frac of the calibration tokens), NAN when not measured */
  double           rq_recall, rq_precision, rq_density, rq_mass_captured, rq_best_epoch;
  int              has_pred;
  sw_predictor_t   pred;    /* DEJAVU */
  float            pred_label_thr; /* DEJAVU/POWERINFER: a neuron is truly active iff |h_i| > this (its label) */
  double           pred_best_epoch, pred_epochs_run; /* predictor training: kept epoch and epochs run (NAN: cached) */
  double           pred_tp, pred_true, pred_pos, pred_tok; /* DEJAVU quality (sw_method_t.measure_predictor):
                                                               true positives, truly active and predicted active
                                                               neurons, tokens, summed over calls */
  float           *gate_t, *up_t; /* TEAL: (d_model, d_ff) transposed gate/up, input-channel-major (owned) */
  sw_ffn_stats_t   stats;   /* accumulated over calls */
  double           teal_sx_sum, teal_sh_sum; /* TEAL: Σ over tokens of the zeroed fraction of x and of h */
  double           teal_sa_sum[SW_LLAMA_SITES]; /* TEAL/CHESS: Σ over tokens of the zeroed fraction at each attention
                                                   site (CHESS: site QKV is q_proj's input only) */
  int64_t          teal_att_tokens;          /* TEAL/CHESS: tokens seen by the attention hook */
} sw_method_layer_t;

/* How a native method multiplies its selected neurons by down: auto picks per call the cheaper of the two
 * (sw_method_native.c, down_rows); tests force one to check it against its own float64 reference. */
typedef enum sw_native_down {
  SW_NATIVE_DOWN_AUTO = 0,
  SW_NATIVE_DOWN_GATHERED, /* the selected rows of the neuron-major Q8_0 copy, f32 coefficients */
  SW_NATIVE_DOWN_MASKED    /* the file's down blocks (packed dense GEMV) on h with the other neurons zeroed */
} sw_native_down_t;

typedef struct sw_method {
  sw_method_cfg_t    cfg;
  const sw_llama_t  *model;  /* borrowed */
  int                n_layer;
  sw_method_layer_t *layers; /* (n_layer) */
  int                max_tok;
  sw_mask_t          mask;   /* neuron mask scratch (max_tok x d_ff) */
  sw_mask_t          emask;  /* expert mask scratch (max_tok x n_expert) */
  sw_ffn_work_t      work;   /* kernel scratch */
  sw_moe_work_t      moe_work;
  int                has_moe_work;
  sw_predictor_work_t pred_work;
  int                has_pred_work;
  float             *prev_x;  /* lookahead: the previous layer's FFN input of the current call (max_tok, d_model) */
  float             *scratch; /* TEAL: (max_tok, 2*d_ff + d_model) */
  int32_t           *idx;     /* TEAL: (max(d_model, d_ff)) */
  uint64_t           nonce;   /* advances every call (random policy) */
  int64_t            tok_hist[SW_METHOD_TOK_BINS + 1]; /* per (token, sparsified layer) sparsity, bins of 1/1000:
                                                          neurons (experts for MoE, down inputs for TEAL) skipped */
  int                measure_predictor; /* 1: every DEJAVU call also scores its predictor against the true labels
                                           of its inputs (the dense FFN; costs a dense FFN per call) */
  int                native;  /* 1 after sw_method_native (models/sw_method_native.h) */
  sw_qctx_t          nctx;    /* native: ISA variant and the bound state's pool (borrowed, sw_method_native_bind) */
  sw_q8a_t          *xq;      /* native: (max_tok, d_ff/32 + 1) quantised activation blocks */
  float             *native_tmp; /* native: (3 d_ff) one token's gathered gate/up/coefficients */
  sw_q8a_t          *xq_down;    /* native: (d_ff/32) one token's masked h, quantised for the dense down */
  sw_native_down_t   native_down; /* native: how the selected neurons' down projection runs (default auto) */
} sw_method_t;

/* Creates an uncalibrated method for model m (kernels' scratch for max_tok tokens per call).
 * Layers run dense until sw_calib fills them.  Free with sw_method_free. */
sw_rc sw_method_init(sw_method_t *meth, const sw_llama_t *m, const sw_method_cfg_t *cfg, int max_tok, sw_err_t *err);
void  sw_method_free(sw_method_t *meth);
/* The hook to pass to sw_llama_forward / sw_eval_run. */
sw_llama_ffn_t sw_method_hook(sw_method_t *meth);
/* Zeroes the per-layer counters. */
void sw_method_reset_stats(sw_method_t *meth);

/* Summary of the counters since the last reset. */
typedef struct sw_method_summary {
  double sparsity;          /* model-wide, over sparsified and dense layers, in the method's definition */
  double sparsity_sparse_layers; /* mean over the layers the method sparsifies */
  double ffn_flops_per_tok; /* executed FFN FLOPs per token incl. selection/router/predictor */
  double attn_flops_saved_per_tok; /* TEAL, CHESS w/: attention projection FLOPs per token made unnecessary by zero
                                      inputs */
  double chess_attn_sparsity[SW_LLAMA_SITES]; /* CHESS w/: zeroed fraction of the q_proj and o_proj inputs, mean over
                                                 the sparsified layers (NAN otherwise) */
  double ffn_flops_dense_per_tok;
  double select_flops_per_tok;
  double ffn_weight_bytes_per_call;       /* FFN weight bytes read per call (a row once per call, kernels/sw_ffn.h),
                                             mean over calls, summed over the layers: one forward call's FFN bytes */
  double ffn_weight_bytes_dense_per_call; /* the same for the dense FFN */
  int64_t tokens;           /* tokens seen per layer */
  double teal_site_sparsity[4]; /* TEAL: zeroed fraction of the q/k/v input, o_proj input, gate/up input and down
                                   input, mean over the sparsified layers (NAN for other methods) */
} sw_method_summary_t;

void sw_method_summary(const sw_method_t *meth, sw_method_summary_t *sum);
/* Deja Vu: layer l's predictor on the tokens seen while measure_predictor was on, since the last reset: recall
 * TP/(TP+FN), precision TP/(TP+FP), predicted and true density (fractions of d_ff).  NAN without data. */
/* The logit threshold of a predictor method's selection: PowerInfer pred_logit_thr, Deja Vu 0 (probability 0.5: its
 * training/validation rule; its inference takes the top-k). */
double sw_method_predictor_logit_thr(const sw_method_cfg_t *cfg);
/* The predictor's input (*x_pred: x, or layer l-1's FFN input under lookahead), logit threshold and k (Deja
 * Vu's top-k; 0 for PowerInfer's threshold) for layer l, the same on f32 and native weights. */
void sw_method_predictor_rule(const sw_method_t *M, int l, const float *x, const float **x_pred, double *thr, int *k);
void sw_method_predictor_quality(const sw_method_t *meth, int l, double *recall, double *precision, double *pred_density,
                                 double *true_density);
/* The q-quantile (0..1) of the per-(token, sparsified layer) sparsity since the last reset, to 1/SW_METHOD_TOK_BINS;
 * NAN when no sparsified call was seen (dense). */
double sw_method_token_quantile(const sw_method_t *meth, double q);
/* Sparsity of layer l since the last reset (definition as above). */
double sw_method_layer_sparsity(const sw_method_t *meth, int l);

#endif
