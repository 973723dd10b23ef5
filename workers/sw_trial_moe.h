/* sw_trial_moe: the MoE-conversion and predictor methods of the synthetic FFN trial ("ffn" workload), plus a
 * standalone runner.  The caller owns the weights and inputs; this module builds the conversion, trains on the
 * calibration tokens, then times dense and method calls interleaved and writes the metrics. */
#ifndef SW_TRIAL_MOE_H
#define SW_TRIAL_MOE_H
#include "common/sw_err.h"
#include "common/sw_json.h"
#include "kernels/sw_ffn.h"
#include "workers/sw_trial.h"

/* Methods and their config keys:
 *   moe_topk      static top-k experts           (MoEfication; keys experts, k or sparsity, router, clustering)
 *   moe_dynk_max  run e iff ĝ_e >= τ·max ĝ       (D2DMoE; keys experts, tau, router, clustering)
 *   moe_dynk_cum  shortest prefix of shares >= τ (D2DMoE "dynk"; keys experts, tau, router, clustering)
 *   moe_lte       sigmoid score > τ (default 0.5) (LTE; router defaults to lte, trained with eta (0.5), the weight
 *                 of its efficiency loss: kernels/sw_lte.h)
 *   predictor     Deja Vu low-rank predictor, positives computed (keys rank, k (0 = probability > threshold),
 *                 threshold (0.5), label_thr (0))
 * Common optional keys: seed (1), router_epochs (20), router_hidden (128), router_lr (1e-3), kmeans_iters (30).
 * experts defaults to d_ff/32 (LTE's 32 neurons per expert); router to "mlp" (D2DMoE regression router).
 * Measurement keys (experiments/README.md, `measure`): warmup (2) untimed pairs, papi_events (absent: the
 * default preset + SDE set of workers/sw_counters.h; [] counts nothing); repetitions, batch and threads arrive
 * through sw_trial_moe_in_t.  cache: "cold" rotates the timed calls over the caller's weight copies (and as many
 * expert-ordered copies built from them), like the policy trials; "warm" (one copy) reuses one; both are
 * recorded as n_weight_copies. */

/* 1 when method (config key "method") is handled by sw_trial_ffn_moe. */
int sw_trial_moe_handles(const char *method);

/* What the ffn trial hands over.  x_calib trains routers/predictors (may equal x for an in-sample run, which
 * the metric "calib_overlap" records as 1 when the pointers are equal). */
typedef struct sw_trial_moe_in {
  const sw_ffn_weights_t *w;       /* the FFN (f32 or bf16; the MoE copy is f32) */
  const float            *x_calib; /* [n_calib][d_model] */
  int                     n_calib;
  const float            *x;       /* [n_tok][d_model] evaluation batch */
  int                     n_tok;
  int                     reps;    /* timed dense/method pairs (>= 1; config key "repetitions") */
  int                     n_threads;
  const sw_ffn_weights_t *copies;  /* [n_copies] identical copies of *w for cache rotation (NULL: w only) */
  int                     n_copies;
} sw_trial_moe_in_t;

/* Runs one MoE/predictor method.  Metrics (units in parentheses): speedup (ratio, median of per-pair
 * dense/method time ratios), time_dense, time_method (s, medians), flops, flops_dense, flops_select (flop,
 * per call; router/predictor included), flop_ratio, weight_bytes, weight_bytes_dense (byte), achieved_sparsity,
 * sparsity_expert (fraction, achieved), experts_per_token_mean/_p10/_p50/_p90 (count), sparsity_token_p10/
 * _p50/_p90 (fraction), rel_error (ratio: mean over tokens of ‖y−y_dense‖/‖y_dense‖), n_experts, expert_size,
 * k, tau, router_loss_first/_final, predictor_recall/_precision/_density, build_time, train_time (s),
 * ideal_speedup (flops_dense/flops), gbs_dense, gbs_method (GB/s of weights read), threads.
 * Samples: series "dense" and "sparse" per repetition.  Counters: one item per papi_events name and series
 * ("dense", "sparse"), a value or NULL with the reason. */
sw_rc sw_trial_ffn_moe(const sw_json_t *config, const sw_trial_moe_in_t *in, sw_trial_out_t *out, sw_err_t *err);

/* Standalone runner (workload-table compatible) for when the ffn trial is not wired: builds a random FFN from
 * keys d_model (576), d_ff (1536), activation ("swiglu"; any sw_act_parse name, the ffn runner's key), seed,
 * Gaussian calibration (n_calib, 1024) and evaluation (batch, 1) tokens, repetitions (7), threads (1), cache
 * ("cold": copies spanning cold_mib (256) MiB, the ffn runner's keys), then calls sw_trial_ffn_moe.  The measurement defaults are those of experiments/README.md. */
sw_rc sw_trial_run_ffn_moe(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err);

#endif
