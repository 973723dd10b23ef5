/* sw_trial_model: the "model" workload — a GGUF Llama-family model (SmolLM2-135M by default) evaluated with a
 * sparsity method in its FFN layers: perplexity / bits per byte / KL / top-1 agreement against dense on real
 * text, achieved sparsity, FLOPs, and decode latency + prefill throughput of dense and method measured in the
 * same trial (interleaved repetitions).
 * Config keys (flat JSON; defaults in parentheses):
 *   model (cache/models/SmolLM2-135M-Instruct.Q4_1.gguf under $SPARSWEEP_CACHE or ./cache): a GGUF file, or a
 *                                  Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json;
 *                                  models/sw_hf.h); weights: native is refused there (no quantised blocks)
 *   text (cache/text/austen.txt)   any UTF-8 text file
 *   method ("dense")               dense | topk | cats (alias threshold) | chess | cett | random | teal | d2dmoe |
 *                                  moefication | lte | dejavu | powerinfer
 *   sparsity (0.5)                 target s for topk/cats/chess/random/teal/dejavu; MoE methods with selection
 *                                  topk: the fraction of experts skipped
 *   tau (0.1)                      cett: target CETT; MoE dynk_max: run e iff ĝ_e >= τ·max ĝ; dynk_cum: share τ
 *   MoE methods (models/README.md, "MoE methods on the model"): clustering (balanced_kmeans | coactivation |
 *   random | contiguous), router (d2dmoe: mlp | oracle; moefication: moefication | similarity | ground_truth |
 *   classifier; lte: lte), selection (d2dmoe: dynk_max | dynk_cum | topk; moefication: topk | dynk_max |
 *   dynk_cum; lte: score), router_epochs / router_lr / router_batch (0 = the paper's: moefication 30 / 1e-2 /
 *   512, others 10 / 1e-3 / 64), router_val_split (0.1), eta (lte: efficiency-loss weight, 0.5, in [0, 100])
 *   activation ("model")           model: the file's own (SiLU for the llama family, recorded as activation_model);
 *                                  silu | relu | relu2 | fatrelu replace it: a change of the model (model_changed),
 *                                  compared with the unchanged file's dense model (dense_reference_activation)
 *   act_param (0)                  FATReLU threshold
 *   layers ("all")                 "all" or a list "0,2,5-9"; other layers run dense
 *   calib_tokens (1024), eval_tokens (2048), window (128)
 *   calib_offset (0), eval_offset (-1 = the first line start at or after the middle of the text), bytes
 *   experts (d_ff/32), rank (64: dejavu rank, powerinfer hidden size), epochs (20, at most), seed (1)
 *   predictor_input (current | previous: Deja Vu's lookahead), predictor_lr (1e-3), predictor_weight_decay (0.01),
 *   predictor_batch (64), predictor_val_split (0.05), predictor_patience (5), predictor_stop_recall (0.99),
 *   predictor_threshold (powerinfer logit, 0): dejavu / powerinfer training (Deja Vu's trainer)
 *   prompt_tokens (32), decode_tokens (16), repetitions (7), warmup (1), threads (1: OpenBLAS threads)
 *   max_repetitions (0: 3 x repetitions), ci_target (0.10), timing_budget_s (120): adaptive repetitions: after
 *                                  repetitions, one more while a timed median's 95 % interval is wider than
 *                                  ci_target of it (common/sw_stats.h sw_reps_decide; docs/measurement.md)
 *   weight_sparsity (0), prune ("magnitude"), prune_pattern ("unstructured"): weight pruning of the linear layers
 *                                  before the method (workers/sw_trial_prune.h)
 *   weights ("native"; was "f32")  native: projections, dense FFN and output on the file's quantised blocks with
 *                                  8-bit activation blocks (models/sw_llama_native.c); f32: the dequantised
 *                                  weights (the accuracy reference; experiments/README.md "Trial identity" on
 *                                  the changed default).  Quality, timing and the dense reference
 *                                  use the same weights; every method's FFN runs on the file's blocks too
 *                                  (models/sw_method_native.c).
 *   teal_alloc ("uniform")         TEAL: uniform | greedy (TEAL's block-wise allocation, models/sw_teal_alloc.h)
 *   task, task_items, task_offset, task_bytes, task_choices, task_context_bytes, task_seed, task_ctx: a
 *                                  multiple-choice evaluation (workers/sw_trial_task.h; metrics task_*)
 *   teal_threshold ("abs_quantile") TEAL's rule: abs_quantile (the s-quantile of |x|) | signed_cdf (F⁻¹(0.5 + s/2),
 *                                  TEAL's code); thresholds are calibrated sequentially (models/sw_calib_teal.c)
 *   chess_attention (1)            chess: 1 also thresholds the q_proj and o_proj inputs per layer (the paper's
 *                                  "CHESS w/"), 0 the FFN channels only ("CHESS w/o")
 *   cache ("cold")                 cold: the caches are flushed (workers/sw_flush.h) before the prefill and before every
 *                                  timed decode step; warm: no flush, refused when the weights a decode step reads
 *                                  exceed the last-level cache (or its size is unknown): that label would be false
 *   ref_mb (2048)                  the dense reference distributions are kept in memory up to this size; beyond
 *                                  it every trial runs each window dense then with the method (paired mode)
 * Metrics: ppl, ppl_se, nll, nll_se, bits_per_byte, kl, kl_se (KL(dense ‖ method), nat/token), top1_agree,
 * ppl_dense, ppl_dense_se, bits_per_byte_dense, ppl_ratio (all against the dense model on the trial's weights);
 * weights_native, and for weights: native (not paired) ppl_native_dense(_se), ppl_f32_dense(_se), kl_native_dense,
 * top1_native_dense: the native dense model against the f32 dense model (the quantised-activation error), and
 * f32_ref_cpu_s / native_ref_cpu_s; achieved_sparsity (mean over the sparsified layers),
 * sparsity_model_wide (all layers), sparsity_definition (unit "definition": 1 intermediate neurons, 3 TEAL
 * size-weighted input channels of q/k/v/o/gate/up/down, 4 MoE experts not executed), sparsity_layer_NN; MoE:
 * moe_clustering / moe_router / moe_selection (name in the unit), moe_experts, router_epochs, router_lr,
 * router_batch, router_val_split, router_recall / router_precision / router_density (+ _layer_NN),
 * router_mass_captured, router_best_epoch (held-out calibration tokens); attn_flops_saved_per_token (TEAL); ffn_flops_per_token, ffn_flops_dense_per_token, ffn_select_flops_per_token,
 * ffn_flops_saved, model_flops_per_token, model_flops_dense_per_token, model_flops_saved (attention at the mean
 * context window/2); decode_s_dense, decode_s_sparse (median s/token), decode_speedup (median of per-repetition
 * dense/method ratios), prefill_tok_s_dense/_sparse, prefill_speedup; calib/eval byte spans and token counts,
 * calib_cached, calib_seconds, model_changed (activation replaced), level, eval_windows, eval_scored_tokens;
 * model_hf (1 when model is a checkpoint directory), model_sha256 (value 0, the digest as its unit: the GGUF
 * file's SHA-256, or a directory's manifest hash over config.json and the shards, models/sw_hf.h).
 * Samples: decode_dense/decode_sparse (median per-token decode time per repetition) and prefill_dense/
 * prefill_sparse (prompt time: the median of TM_PREFILL_MEDIAN_OF prefills per repetition; metrics
 * prefill_median_of, prefill/decode_cpu_fraction, prefill/decode_preemptions), interleaved dense, method per
 * repetition; timing_reps, timing_stop and timing_ci_* (the adaptive rule's outcome).  Counters (config
 * papi_events, default presets + the kernels' SDE events) over the timed decode steps of the first `repetitions`
 * repetitions (so their sums do not depend on the rule): series decode_dense / decode_sparse.
 * The model, the tokenised spans, the dense reference distributions and the calibration inputs are prepared
 * once per executor (sw_trial_prepare_model) and kept in the trial cache; per-method calibration is cached on
 * disk under <cache>/calib keyed by model hash, calibration span and method parameters (the level only where the
 * calibration reads it: a D2DMoE τ sweep trains its routers once, models/sw_calib.h sw_calib_uses_level). */
#include <cblas.h>
#include <stddef.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "common/sw_methods.h"
#include "common/sw_stats.h"
#include "common/sw_time.h"
#include "kernels/sw_ffn_dense.h"
#include "kernels/sw_flops.h"
#include "kernels/sw_sde.h"
#include "models/sw_calib.h"
#include "models/sw_eval.h"
#include "models/sw_hf.h"
#include "models/sw_llama.h"
#include "models/sw_llama_native.h"
#include "models/sw_method.h"
#include "models/sw_method_native.h"
#include "models/sw_tokenizer_hf.h"
#include "models/sw_teal_alloc.h"
#include "models/sw_tokenizer_gguf.h"
#include "kernels/sw_isa.h"
#include "models/sw_wffn.h"
#include "workers/sw_counters.h"
#include "workers/sw_flush.h"
#include "workers/sw_slot.h"
#include "workers/sw_trial.h"
#include "workers/sw_trial_prune.h"
#include "workers/sw_trial_task.h"
#include "workers/sw_trial_model.h"
#include "experiments/sw_keys.h"

#define TM_MAX_REPS 100 /* array sizes of the timed phase; the model table caps repetitions and max_repetitions */
#define TM_MIN_ADAPTIVE 6 /* fewer repetitions have no 95 % median interval to steer by: no adaptive default */
#define TM_MAX_DECODE 256

typedef struct tm_cfg {
  const char *model, *text, *method, *activation, *layers, *kernel_isa, *weights, *teal_alloc, *teal_threshold, *cache;
  const char *router, *clustering, *selection; /* MoE methods; NULL = the method's default */
  double      router_lr, router_val_split, eta;
  const char *predictor_input;
  double      predictor_lr, predictor_weight_decay, predictor_val_split, predictor_stop_recall, predictor_threshold;
  int64_t     predictor_batch, predictor_patience;
  int64_t     router_epochs, router_batch;
  sw_isa_t    isa; /* SIMD variant of the sparse kernels (kernel_isa; auto: SPARSWEEP_KERNEL_ISA or the best) */
  sw_llama_weights_kind_t weights_kind;
  double      sparsity, tau, act_param;
  int64_t     calib_tokens, eval_tokens, window, calib_offset, eval_offset;
  int64_t     experts, rank, epochs, seed, prompt_tokens, decode_tokens, reps, warmup, threads, ref_mb, chess_attention;
  int64_t     max_repetitions;           /* adaptive repetitions (0 in a file: the default, resolved by tm_parse) */
  double      ci_target, timing_budget_s;
  char        model_path[2048], text_path[2048], cache_dir[1024];
} tm_cfg_t;

/* Executor-lifetime model entry. */
typedef struct tm_model {
  sw_llama_t      model;
  sw_tokenizer_t *tok;
} tm_model_t;

/* Executor-lifetime data entry: spans, dense reference, calibration inputs. */
typedef struct tm_data {
  int32_t        *calib, *eval;        /* token ids */
  size_t          n_calib, n_eval;
  uint32_t       *eval_bytes;          /* UTF-8 bytes per eval token */
  size_t          calib_b0, calib_b1, eval_b0, eval_b1; /* byte spans [b0, b1) in the text file */
  char            span[512];           /* "austen.txt:[0,4711)" (calibration span, part of the calib key) */
  int             paired;              /* 1: no stored reference (too large); trials run dense per window */
  sw_eval_ref_t   ref;                 /* dense reference on the eval span (unless paired) */
  sw_eval_result_t dense;              /* dense quality on the eval span */
  int             has_native;          /* native_dense and f32_dense are filled (weights: native, not paired) */
  sw_eval_result_t native_dense;       /* native dense quality against the f32 dense reference */
  sw_eval_result_t f32_dense;          /* the f32 dense model's own quality (the accuracy reference) */
  double          f32_ref_cpu_s, native_ref_cpu_s; /* CPU seconds of the two dense passes (prepared once) */
} tm_data_t;

static void default_cache_dir(char *buf, size_t len) {
  const char *env = getenv("SPARSWEEP_CACHE");
  snprintf(buf, len, "%s", env && *env ? env : "cache");
}

#define TM_KEY(field) {#field, offsetof(tm_cfg_t, field)}
/* The keys of the model table (experiments/sw_keys_table.c) and the fields they fill. */
static const sw_keybind_t tm_keys[] = {
    TM_KEY(model),        TM_KEY(text),          TM_KEY(method),       TM_KEY(activation),    TM_KEY(layers),
    TM_KEY(kernel_isa),   TM_KEY(weights),       TM_KEY(sparsity),     TM_KEY(tau),           TM_KEY(act_param),
    TM_KEY(calib_tokens), TM_KEY(eval_tokens),   TM_KEY(window),       TM_KEY(calib_offset),  TM_KEY(eval_offset),
    TM_KEY(experts),      TM_KEY(rank),          TM_KEY(epochs),       TM_KEY(seed),          TM_KEY(prompt_tokens),
    TM_KEY(decode_tokens), TM_KEY(warmup),       TM_KEY(threads),      TM_KEY(ref_mb),
    TM_KEY(router),       TM_KEY(clustering),    TM_KEY(selection),    TM_KEY(router_lr),     TM_KEY(router_val_split),
    TM_KEY(eta),          TM_KEY(router_epochs), TM_KEY(router_batch),  TM_KEY(teal_alloc),    TM_KEY(teal_threshold),
    TM_KEY(chess_attention), TM_KEY(cache),      TM_KEY(predictor_input), TM_KEY(predictor_lr),
    TM_KEY(predictor_weight_decay), TM_KEY(predictor_val_split), TM_KEY(predictor_stop_recall),
    TM_KEY(predictor_threshold), TM_KEY(predictor_batch), TM_KEY(predictor_patience), TM_KEY(max_repetitions),
    TM_KEY(ci_target),    TM_KEY(timing_budget_s),
    {"repetitions", offsetof(tm_cfg_t, reps)},
};
#undef TM_KEY

static sw_rc tm_parse(tm_cfg_t *c, const sw_json_t *j, sw_err_t *err) {
  memset(c, 0, sizeof *c);
  c->kernel_isa = "auto"; /* declared without default: absent means SPARSWEEP_KERNEL_ISA or the best */
  sw_rc rc = sw_keys_read(sw_keytable("model"), j, tm_keys, sizeof tm_keys / sizeof tm_keys[0], c, err);
  if (rc) return sw_err_prefix(err, "model");
  if (!rc && (rc = sw_isa_parse(c->kernel_isa, &c->isa, err))) sw_err_prefix(err, "model: kernel_isa");
  if (!rc) rc = sw_llama_weights_parse(c->weights, &c->weights_kind, err);
  if (rc) return rc;
  if (strcmp(c->cache, "cold") != 0 && strcmp(c->cache, "warm") != 0)
    return sw_err_set(err, SW_ERR_INVALID, "model: cache '%s' (cold, warm)", c->cache);
  if (c->window < 2 || c->window > 4096 || c->calib_tokens < c->window || c->eval_tokens < c->window ||
      c->calib_tokens > (1 << 20) || c->eval_tokens > (1 << 20))
    return sw_err_set(err, SW_ERR_RANGE, "model: window %lld, calib_tokens %lld, eval_tokens %lld out of range "
                      "(each span needs at least one window)", (long long)c->window, (long long)c->calib_tokens,
                      (long long)c->eval_tokens);
  if (c->max_repetitions == 0) /* 3x: a noisy trial's timing costs at most three quiet ones' (docs/measurement.md) */
    c->max_repetitions = c->reps < TM_MIN_ADAPTIVE ? c->reps : (c->reps * 3 < TM_MAX_REPS ? c->reps * 3 : TM_MAX_REPS);
  if (c->max_repetitions > TM_MAX_REPS || c->decode_tokens > TM_MAX_DECODE) /* array sizes; the table's limits fit */
    return sw_err_set(err, SW_ERR_RANGE, "model: max_repetitions > %d or decode_tokens > %d", TM_MAX_REPS, TM_MAX_DECODE);
  if (c->max_repetitions < c->reps)
    return sw_err_set(err, SW_ERR_RANGE, "model: max_repetitions %lld < repetitions %lld",
                      (long long)c->max_repetitions, (long long)c->reps);
  if (c->prompt_tokens + c->decode_tokens > c->eval_tokens)
    return sw_err_set(err, SW_ERR_RANGE, "model: prompt_tokens + decode_tokens %lld > eval_tokens %lld",
                      (long long)(c->prompt_tokens + c->decode_tokens), (long long)c->eval_tokens);
  default_cache_dir(c->cache_dir, sizeof c->cache_dir);
  if (c->model) snprintf(c->model_path, sizeof c->model_path, "%s", c->model);
  else snprintf(c->model_path, sizeof c->model_path, "%s/models/SmolLM2-135M-Instruct.Q4_1.gguf", c->cache_dir);
  if (c->text) snprintf(c->text_path, sizeof c->text_path, "%s", c->text);
  else snprintf(c->text_path, sizeof c->text_path, "%s/text/austen.txt", c->cache_dir);
  return SW_OK;
}

static void tm_model_destroy(void *v) {
  tm_model_t *m = v;
  sw_llama_free(&m->model);
  sw_tokenizer_free(m->tok);
  free(m);
}

static void tm_data_destroy(void *v) {
  tm_data_t *d = v;
  free(d->calib);
  free(d->eval);
  free(d->eval_bytes);
  sw_eval_ref_free(&d->ref);
  free(d);
}

static void tm_calibx_destroy(void *v) {
  sw_calib_data_free(v);
  free(v);
}

static sw_rc load_model(tm_model_t **out, const char *path, sw_err_t *err) {
  tm_model_t *m = calloc(1, sizeof *m);
  if (!m) return sw_err_set(err, SW_ERR_NOMEM, "model: out of memory");
  sw_rc rc = sw_llama_load(&m->model, path, err); /* a directory is a Hugging Face checkpoint (models/sw_hf.h) */
  if (!rc) rc = sw_tokenizer_open(path, &m->tok, err);
  if (rc) {
    if (m->model.w.block) sw_llama_free(&m->model);
    free(m);
    return rc;
  }
  *out = m;
  return SW_OK;
}

static sw_rc read_text(const char *path, char **buf, size_t *len, sw_err_t *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return sw_err_set(err, SW_ERR_IO, "model: cannot open text '%s' (HINT: scripts/fetch_text.sh)", path);
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || st.st_size <= 0) {
    fclose(f);
    return sw_err_set(err, SW_ERR_IO, "model: text '%s' is empty", path);
  }
  *len = (size_t)st.st_size;
  *buf = malloc(*len);
  size_t got = *buf ? fread(*buf, 1, *len, f) : 0;
  fclose(f);
  if (got != *len) {
    free(*buf);
    return sw_err_set(err, SW_ERR_IO, "model: cannot read text '%s'", path);
  }
  return SW_OK;
}

/* Tokenises text from byte b0 until n tokens are produced (chunks end at a newline so no UTF-8 sequence or
 * word is cut); *b1 = b0 + the UTF-8 bytes of those n tokens. */
static sw_rc tokenize_span(const sw_tokenizer_t *tok, const char *text, size_t len, size_t b0, size_t n,
                           int32_t **ids, uint32_t **bytes, size_t *b1, sw_err_t *err) {
  size_t chunk = n * 6 + 256;
  for (;;) {
    size_t end = b0 + chunk < len ? b0 + chunk : len;
    while (end < len && text[end - 1] != '\n') end++;
    size_t got = 0;
    int32_t *all = NULL;
    sw_rc rc = sw_tokenizer_encode(tok, text + b0, end - b0, 0, &all, &got, err);
    if (rc) return rc;
    if (got >= n || end == len) {
      if (got < n) {
        free(all);
        return sw_err_set(err, SW_ERR_RANGE, "model: text from byte %zu holds only %zu tokens, %zu wanted", b0, got, n);
      }
      *ids = all;
      *bytes = malloc(n * sizeof **bytes);
      sw_buf_t b = SW_BUF_INIT;
      size_t total = 0;
      for (size_t i = 0; *bytes && i < n; i++) {
        sw_buf_reset(&b);
        if ((rc = sw_tokenizer_decode(tok, &all[i], 1, &b, err))) break;
        (*bytes)[i] = (uint32_t)b.len;
        total += b.len;
      }
      sw_buf_free(&b);
      if (!*bytes) rc = sw_err_set(err, SW_ERR_NOMEM, "model: out of memory");
      *b1 = b0 + total;
      return rc;
    }
    free(all);
    chunk *= 2;
  }
}

static sw_rc make_spans(tm_data_t *d, const tm_cfg_t *c, const tm_model_t *m, sw_err_t *err) {
  char *text = NULL;
  size_t len = 0;
  sw_rc rc = read_text(c->text_path, &text, &len, err);
  if (rc) return rc;
  size_t e0 = c->eval_offset >= 0 ? (size_t)c->eval_offset : len / 2;
  if (c->eval_offset < 0)
    while (e0 < len && e0 > 0 && text[e0 - 1] != '\n') e0++;
  size_t c0 = (size_t)c->calib_offset;
  uint32_t *cbytes = NULL;
  if (c0 >= len || e0 >= len) rc = sw_err_set(err, SW_ERR_RANGE, "model: span offsets beyond the text (%zu bytes)", len);
  if (!rc) rc = tokenize_span(m->tok, text, len, c0, (size_t)c->calib_tokens, &d->calib, &cbytes, &d->calib_b1, err);
  if (!rc) rc = tokenize_span(m->tok, text, len, e0, (size_t)c->eval_tokens, &d->eval, &d->eval_bytes, &d->eval_b1, err);
  free(cbytes);
  free(text);
  if (rc) return rc;
  d->n_calib = (size_t)c->calib_tokens;
  d->n_eval = (size_t)c->eval_tokens;
  d->calib_b0 = c0;
  d->eval_b0 = e0;
  if (!(d->calib_b1 <= d->eval_b0 || d->eval_b1 <= d->calib_b0))
    return sw_err_set(err, SW_ERR_INVALID, "model: calibration span [%zu,%zu) overlaps evaluation span [%zu,%zu)",
                      d->calib_b0, d->calib_b1, d->eval_b0, d->eval_b1);
  const char *base = strrchr(c->text_path, '/');
  snprintf(d->span, sizeof d->span, "%.200s:[%zu,%zu):%zu", base ? base + 1 : c->text_path, d->calib_b0, d->calib_b1,
           d->n_calib);
  return SW_OK;
}

/* A run state on the trial's weights (native: the quantised kernels on c->threads threads). */
static sw_rc tm_state(sw_llama_state_t *st, const tm_cfg_t *c, const sw_llama_t *m, int max_tok, int n_ctx,
                      sw_err_t *err) {
  sw_rc rc = sw_llama_state_init(st, m, max_tok, n_ctx, err);
  if (!rc && c->weights_kind == SW_LLAMA_WEIGHTS_NATIVE)
    rc = sw_llama_state_native(st, m, (int)c->threads, SW_ISA_AUTO, err);
  if (rc && st->x) sw_llama_state_free(st);
  return rc;
}

/* The dense reference on the trial's weights.  weights: native runs the f32 dense model first, then the native
 * one against it (native_dense: the quantised-activation error) and keeps the native distributions. */
static sw_rc dense_reference(tm_data_t *d, const tm_cfg_t *c, const tm_model_t *m, sw_err_t *err) {
  tm_cfg_t f32 = *c;
  f32.weights_kind = SW_LLAMA_WEIGHTS_F32;
  sw_llama_state_t st;
  double t0 = sw_cpu_s();
  sw_rc rc = tm_state(&st, &f32, &m->model, (int)c->window, (int)c->window, err);
  if (rc) return rc;
  rc = sw_eval_run(&m->model, &st, NULL, d->eval, d->n_eval, d->eval_bytes, (int)c->window, NULL, &d->ref, &d->dense,
                   err);
  sw_llama_state_free(&st);
  d->f32_ref_cpu_s = sw_cpu_s() - t0;
  if (rc || c->weights_kind != SW_LLAMA_WEIGHTS_NATIVE) return rc;
  sw_eval_ref_t native = {0};
  t0 = sw_cpu_s();
  if ((rc = tm_state(&st, c, &m->model, (int)c->window, (int)c->window, err))) return rc;
  rc = sw_eval_run(&m->model, &st, NULL, d->eval, d->n_eval, d->eval_bytes, (int)c->window, &d->ref, &native,
                   &d->native_dense, err);
  sw_llama_state_free(&st);
  d->native_ref_cpu_s = sw_cpu_s() - t0;
  if (rc) return rc;
  sw_eval_ref_free(&d->ref);
  d->ref = native;
  d->f32_dense = d->dense;
  d->dense = d->native_dense;
  d->dense.kl_mean = 0, d->dense.kl_se = 0, d->dense.top1_agree = 1;
  d->has_native = 1;
  return SW_OK;
}

static void data_key(char *key, size_t len, const tm_cfg_t *c, const tm_model_t *m) {
  snprintf(key, len, "model-data:%s:%s:%lld:%lld:%lld:%lld:%lld:%lld:%s", m->model.sha256, c->text_path,
           (long long)c->calib_tokens, (long long)c->eval_tokens, (long long)c->window, (long long)c->calib_offset,
           (long long)c->eval_offset, (long long)c->ref_mb, sw_llama_weights_name(c->weights_kind));
}

/* The run's activation: "model" (the default) is the file's own (sw_llama_config_t.act); any other name replaces
 * it, which changes the model (model_changed) while the dense reference stays the file's model. */
static sw_rc parse_act(const tm_cfg_t *c, const sw_llama_t *m, sw_act_t *act, sw_err_t *err) {
  int gated = 0;
  if (strcmp(c->activation, "model") == 0) {
    *act = m->cfg.act;
    return SW_OK;
  }
  sw_rc rc = sw_act_parse(c->activation, act, &gated, err);
  if (!rc && gated) rc = sw_err_set(err, SW_ERR_INVALID, "model: activation '%s': give the plain name (silu, relu, "
                                    "relu2, fatrelu); the FFN stays gated", c->activation);
  return rc;
}

/* Loads (or finds) the model, spans + dense reference, and calibration inputs of the config. */
static sw_rc tm_prepare(sw_trial_cache_t *cache, const tm_cfg_t *c, tm_model_t **mo, tm_data_t **da,
                        sw_calib_data_t **cx, sw_err_t *err) {
  char key[4096];
  snprintf(key, sizeof key, "model:%s", c->model_path);
  tm_model_t *m = sw_trial_cache_get(cache, key);
  sw_rc rc = SW_OK;
  if (!m) {
    if ((rc = load_model(&m, c->model_path, err))) return rc;
    if ((rc = sw_trial_cache_put(cache, key, m, tm_model_destroy))) return sw_err_set(err, rc, "model: cache full");
  }
  data_key(key, sizeof key, c, m);
  tm_data_t *d = sw_trial_cache_get(cache, key);
  if (!d) {
    d = calloc(1, sizeof *d);
    if (!d) return sw_err_set(err, SW_ERR_NOMEM, "model: out of memory");
    rc = make_spans(d, c, m, err);
    d->paired = sw_eval_ref_bytes(d->n_eval, (int)c->window, m->model.cfg.vocab) > ((size_t)c->ref_mb << 20);
    if (!rc && !d->paired) rc = dense_reference(d, c, m, err);
    if (rc) {
      tm_data_destroy(d);
      return rc;
    }
    if ((rc = sw_trial_cache_put(cache, key, d, tm_data_destroy))) return sw_err_set(err, rc, "model: cache full");
  }
  sw_act_t act;
  if ((rc = parse_act(c, &m->model, &act, err))) return rc;
  size_t kl = strlen(key);
  snprintf(key + kl, sizeof key - kl, ":calibx:%s:%.9g", sw_act_name(act), c->act_param);
  sw_calib_data_t *x = sw_trial_cache_get(cache, key);
  if (!x) {
    x = calloc(1, sizeof *x);
    if (!x) return sw_err_set(err, SW_ERR_NOMEM, "model: out of memory");
    rc = sw_calib_collect(x, &m->model, act, (float)c->act_param, d->calib, d->n_calib, (int)c->window, err);
    if (rc) {
      free(x);
      return rc;
    }
    if ((rc = sw_trial_cache_put(cache, key, x, tm_calibx_destroy))) return sw_err_set(err, rc, "model: cache full");
  }
  *mo = m, *da = d, *cx = x;
  return SW_OK;
}

/* The config's multiple-choice task and its dense scores on the trial's weights (workers/sw_trial_task.h);
 * *t = NULL without one.  Sequences run in chunks of TM_TASK_CHUNK tokens (the logits of a chunk stay small). */
#define TM_TASK_CHUNK 64
static sw_rc tm_task(sw_trial_cache_t *cache, const sw_json_t *config, const tm_cfg_t *c, const tm_model_t *m,
                     const tm_data_t *d, sw_trial_task_t **t, sw_err_t *err) {
  sw_trial_task_cfg_t tc;
  *t = NULL;
  sw_rc rc = sw_trial_task_parse(&tc, config, err);
  if (rc || !sw_trial_task_on(&tc)) return rc;
  sw_trial_task_src_t src = {c->text_path, d->calib_b0, d->calib_b1, sw_llama_weights_name(c->weights_kind)};
  sw_llama_state_t st;
  if ((rc = tm_state(&st, c, &m->model, TM_TASK_CHUNK, (int)tc.ctx, err))) return rc;
  rc = sw_trial_task_prepare(cache, &tc, &src, &m->model, &st, m->tok, t, err);
  sw_llama_state_free(&st);
  return rc;
}

/* The method on the task's items (same weights and chunking as its dense scores). */
static sw_rc tm_task_run(const sw_trial_task_t *t, const sw_json_t *config, const tm_cfg_t *c, const tm_model_t *m,
                         sw_method_t *M, sw_trial_out_t *out, sw_err_t *err) {
  sw_trial_task_cfg_t tc;
  sw_llama_state_t    st;
  sw_rc rc = sw_trial_task_parse(&tc, config, err);
  if (!rc) rc = tm_state(&st, c, &m->model, TM_TASK_CHUNK, (int)tc.ctx, err);
  if (rc) return rc;
  sw_llama_ffn_t hook = M ? sw_method_hook(M) : (sw_llama_ffn_t){0};
  if (M && M->native) sw_method_native_bind(M, &st);
  rc = sw_trial_task_run(t, &m->model, &st, M ? &hook : NULL, m->tok, out, err);
  if (M) sw_method_native_bind(M, NULL);
  sw_llama_state_free(&st);
  return rc;
}

sw_rc sw_trial_prepare_model(sw_trial_cache_t *cache, const sw_json_t *config, sw_err_t *err) {
  tm_cfg_t c;
  sw_rc rc = tm_parse(&c, config, err);
  tm_model_t *m;
  tm_data_t *d;
  sw_calib_data_t *x;
  if (rc) return rc;
  openblas_set_num_threads((int)c.threads);
  sw_trial_task_t *t;
  if (!(rc = tm_prepare(cache, &c, &m, &d, &x, err))) rc = tm_task(cache, config, &c, m, d, &t, err);
  return rc;
}

/* The MoE keys (router, clustering, selection, router training) over the method's defaults; the level is the
 * experts skipped for top-k, τ for dynk_max / dynk_cum. */
static sw_rc moe_cfg(sw_method_cfg_t *mc, const tm_cfg_t *c, sw_err_t *err) {
  sw_method_moe_defaults(mc);
  sw_rc rc = SW_OK;
  if (c->router && (rc = sw_moe_router_parse(&mc->moe_router, c->router, err))) return sw_err_prefix(err, "model: router");
  if (c->clustering && (rc = sw_partition_parse(&mc->moe_split, c->clustering, err)))
    return sw_err_prefix(err, "model: clustering");
  if (c->selection && (rc = sw_moe_select_parse(&mc->moe_select, c->selection, err)))
    return sw_err_prefix(err, "model: selection");
  if (mc->kind == SW_METHOD_LTE && (mc->moe_select != SW_MOE_SELECT_SCORE || mc->moe_router != SW_MOE_ROUTER_LTE))
    return sw_err_set(err, SW_ERR_INVALID, "model: lte runs its own router with selection score (G > 0.5)");
  if (mc->kind != SW_METHOD_LTE && (mc->moe_select == SW_MOE_SELECT_SCORE || mc->moe_router == SW_MOE_ROUTER_LTE))
    return sw_err_set(err, SW_ERR_INVALID, "model: router lte / selection score belong to method lte");
  mc->level = mc->kind == SW_METHOD_LTE ? c->eta : mc->moe_select == SW_MOE_SELECT_TOPK ? c->sparsity : c->tau;
  if (c->router_epochs < 0 || c->router_epochs > 10000 || c->router_batch < 0 || c->router_batch > (1 << 20) ||
      !(c->router_lr >= 0 && c->router_lr <= 10) || !(c->router_val_split >= 0 && c->router_val_split < 1))
    return sw_err_set(err, SW_ERR_RANGE, "model: router_epochs 0..10000, router_batch 0..1048576, router_lr 0..10, "
                      "router_val_split in [0, 1)");
  mc->router_epochs = (int)c->router_epochs, mc->router_batch = (int)c->router_batch;
  mc->router_lr = c->router_lr, mc->router_val_frac = c->router_val_split;
  return SW_OK;
}

static sw_rc method_cfg(sw_method_cfg_t *mc, const tm_cfg_t *c, const sw_llama_t *m, sw_err_t *err) {
  sw_method_cfg_defaults(mc, &m->cfg);
  sw_rc rc = sw_method_parse(c->method, &mc->kind, err);
  if (!rc) rc = parse_act(c, m, &mc->act, err);
  if (!rc) rc = sw_method_parse_layers(mc, c->layers, m->cfg.n_layer, err);
  if (rc) return rc;
  if ((rc = sw_teal_alloc_parse(c->teal_alloc, &mc->teal_greedy, err))) return rc;
  if (mc->teal_greedy && mc->kind != SW_METHOD_TEAL)
    return sw_err_set(err, SW_ERR_INVALID, "model: teal_alloc: greedy applies to method teal only, not %s", c->method);
  mc->act_param = (float)c->act_param;
  mc->level = mc->kind == SW_METHOD_CETT ? c->tau : c->sparsity;
  if (mc->kind == SW_METHOD_DENSE) mc->level = 0;
  if (sw_method_is_moe(mc->kind) && (rc = moe_cfg(mc, c, err))) return rc; /* MoE levels: sparsity, τ or η */
  double hi = mc->kind == SW_METHOD_LTE ? 100.0 : 1.0;                     /* LTE's η is a loss weight */
  if (!(mc->level >= 0 && mc->level <= hi) || (mc->kind == SW_METHOD_CETT && mc->level >= 1))
    return sw_err_set(err, SW_ERR_RANGE, "model: method %s level %g outside [0,%g]", c->method, mc->level, hi);
  if (c->experts > 0) mc->n_expert = (int)c->experts;
  if (m->cfg.d_ff % mc->n_expert != 0)
    return sw_err_set(err, SW_ERR_RANGE, "model: experts %d does not divide d_ff %d", mc->n_expert, m->cfg.d_ff);
  mc->pred_rank = (int)c->rank;
  mc->train_epochs = (int)c->epochs;
  mc->pred_lookahead = strcmp(c->predictor_input, "previous") == 0;
  mc->pred_lr = c->predictor_lr, mc->pred_weight_decay = c->predictor_weight_decay;
  mc->pred_val_frac = c->predictor_val_split, mc->pred_stop_recall = c->predictor_stop_recall;
  mc->pred_logit_thr = c->predictor_threshold;
  mc->pred_batch = (int)c->predictor_batch, mc->pred_patience = (int)c->predictor_patience;
  mc->seed = (uint64_t)c->seed;
  mc->teal_signed_cdf = strcmp(c->teal_threshold, "signed_cdf") == 0;
  mc->chess_attention = c->chess_attention != 0;
  if (c->chess_attention != 0 && c->chess_attention != 1)
    return sw_err_set(err, SW_ERR_RANGE, "model: chess_attention %lld (0 or 1)", (long long)c->chess_attention);
  if (!mc->teal_signed_cdf && strcmp(c->teal_threshold, "abs_quantile") != 0)
    return sw_err_set(err, SW_ERR_INVALID, "model: teal_threshold '%s' (abs_quantile, signed_cdf)", c->teal_threshold);
  return SW_OK;
}

/* Calibrates from the disk cache when present, else from the recorded inputs (then saves). */
static sw_rc calibrate(sw_method_t *M, const tm_cfg_t *c, const tm_model_t *m, const tm_data_t *d,
                       const sw_calib_data_t *x, const char *prune_tag, int *cached, double *seconds, sw_err_t *err) {
  char key[8192], dir[2100], model_id[256];
  snprintf(dir, sizeof dir, "%s/calib", c->cache_dir);
  snprintf(model_id, sizeof model_id, "%s%s", m->model.sha256, prune_tag); /* a pruned model calibrates apart */
  sw_calib_key(key, sizeof key, M, model_id, d->span);
  int64_t t0 = sw_now_ns();
  sw_err_t e2 = {0};
  *cached = sw_calib_load(M, dir, key, &e2) == SW_OK;
  sw_rc rc = SW_OK;
  if (*cached && (rc = sw_calib_router_quality(M, x, err))) return rc; /* at this trial's level (a τ sweep shares
                                                                          one cached router) */
  if (!*cached) {
    sw_method_t fresh;
    sw_method_cfg_t mc = M->cfg;
    int max_tok = M->max_tok;
    sw_method_free(M); /* a failed load may have filled some layers */
    if ((rc = sw_method_init(&fresh, &m->model, &mc, max_tok, err))) return rc;
    *M = fresh;
    if ((rc = sw_calib_method(M, x, err))) return rc;
    (void)mkdir(c->cache_dir, 0777);           /* may exist */
    (void)sw_calib_save(M, dir, key, &e2);     /* best effort: a read-only cache only costs recalibration */
  }
  *seconds = (double)(sw_now_ns() - t0) * 1e-9;
  return SW_OK;
}

static void put_quality(sw_trial_out_t *out, const sw_eval_result_t *r, const sw_eval_result_t *dense) {
  sw_trial_out_metric(out, "ppl", r->ppl, "ppl");
  sw_trial_out_metric(out, "ppl_se", r->ppl_se, "ppl");
  sw_trial_out_metric(out, "nll", r->nll_mean, "nat/token");
  sw_trial_out_metric(out, "nll_se", r->nll_se, "nat/token");
  sw_trial_out_metric(out, "bits_per_byte", r->bits_per_byte, "bit/byte");
  sw_trial_out_metric(out, "kl", r->kl_mean, "nat/token");
  sw_trial_out_metric(out, "kl_se", r->kl_se, "nat/token");
  sw_trial_out_metric(out, "top1_agree", r->top1_agree, "fraction");
  sw_trial_out_metric(out, "ppl_dense", dense->ppl, "ppl");
  sw_trial_out_metric(out, "ppl_dense_se", dense->ppl_se, "ppl");
  sw_trial_out_metric(out, "bits_per_byte_dense", dense->bits_per_byte, "bit/byte");
  sw_trial_out_metric(out, "ppl_ratio", r->ppl / dense->ppl, "ratio");
  sw_trial_out_metric(out, "eval_windows", (double)r->n_windows, "count");
  sw_trial_out_metric(out, "eval_scored_tokens", (double)r->n_scored, "count");
  sw_trial_out_metric(out, "eval_seconds", r->seconds, "s");
}

static void put_sparsity(sw_trial_out_t *out, const sw_method_t *M, const sw_llama_config_t *mc, double ctx) {
  sw_method_summary_t s;
  sw_method_summary(M, &s);
  sw_trial_out_metric(out, "achieved_sparsity", s.sparsity_sparse_layers, "fraction"); /* over sparsified layers */
  sw_trial_out_metric(out, "sparsity_model_wide", s.sparsity, "fraction");               /* over all layers */
  sw_trial_out_metric(out, "sparsity_definition", sw_method_sparsity_definition(M->cfg.kind), "definition");
  /* per (token, sparsified layer): neurons skipped (MoE: experts, TEAL: down inputs), quantiles to 0.001 */
  sw_trial_out_metric(out, "sparsity_token_p10", sw_method_token_quantile(M, 0.1), "fraction");
  sw_trial_out_metric(out, "sparsity_token_p50", sw_method_token_quantile(M, 0.5), "fraction");
  sw_trial_out_metric(out, "sparsity_token_p90", sw_method_token_quantile(M, 0.9), "fraction");
  static const char *const teal_sites[4] = {"teal_sparsity_qkv_in", "teal_sparsity_o_in", "teal_sparsity_ffn_in",
                                             "teal_sparsity_down_in"};
  for (int i = 0; i < 4 && M->cfg.kind == SW_METHOD_TEAL; i++)
    sw_trial_out_metric(out, teal_sites[i], s.teal_site_sparsity[i], "fraction");
  if (M->cfg.kind == SW_METHOD_TEAL) sw_trial_out_metric(out, "teal_threshold_signed_cdf", M->cfg.teal_signed_cdf, "bool");
  if (M->cfg.kind == SW_METHOD_CHESS) {
    sw_trial_out_metric(out, "chess_attention", M->cfg.chess_attention, "bool");
    sw_trial_out_metric(out, "chess_sparsity_q_in", M->cfg.chess_attention ? s.chess_attn_sparsity[0] : 0.0, "fraction");
    sw_trial_out_metric(out, "chess_sparsity_o_in", M->cfg.chess_attention ? s.chess_attn_sparsity[1] : 0.0, "fraction");
  }
  for (int l = 0; l < M->n_layer; l++) {
    char name[64];
    snprintf(name, sizeof name, "sparsity_layer_%02d", l);
    double v = sw_method_layer_sparsity(M, l);
    sw_trial_out_metric(out, name, isnan(v) ? 0.0 : v, "fraction");
  }
  double model_dense = sw_llama_flops_per_token(mc, ctx);
  double other = model_dense - sw_llama_ffn_flops_per_token(mc);
  sw_trial_out_metric(out, "ffn_flops_per_token", s.ffn_flops_per_tok, "flop");
  sw_trial_out_metric(out, "ffn_flops_dense_per_token", s.ffn_flops_dense_per_tok, "flop");
  sw_trial_out_metric(out, "ffn_select_flops_per_token", s.select_flops_per_tok, "flop");
  sw_trial_out_metric(out, "ffn_weight_bytes_per_call", s.ffn_weight_bytes_per_call, "byte");
  sw_trial_out_metric(out, "ffn_weight_bytes_dense_per_call", s.ffn_weight_bytes_dense_per_call, "byte");
  sw_trial_out_metric(out, "ffn_flops_saved", 1.0 - s.ffn_flops_per_tok / s.ffn_flops_dense_per_tok, "fraction");
  double model = other - s.attn_flops_saved_per_tok + s.ffn_flops_per_tok;
  sw_trial_out_metric(out, "attn_flops_saved_per_token", s.attn_flops_saved_per_tok, "flop");
  sw_trial_out_metric(out, "model_flops_per_token", model, "flop");
  sw_trial_out_metric(out, "model_flops_dense_per_token", model_dense, "flop");
  sw_trial_out_metric(out, "model_flops_saved", 1.0 - model / model_dense, "fraction");
}

/* The FFN hook of one timed series with every kernel call accounted into the SDE counters (sde NULL: none):
 * the weight-sparse FFN of a pruned model (its kernels' stats), the method's hook (its per-layer stats give the
 * call's counts), or, for the dense series, the dense kernel on the model's own weights, which is what
 * sw_llama_forward runs without a hook. */
typedef struct tm_counted_ffn {
  sw_wffn_t        *wffn;   /* non-NULL: sparse series timed through the weight-sparse FFN (models/sw_wffn.h) */
  sw_method_t      *method; /* NULL: dense series */
  const sw_llama_t *model;
  sw_ffn_work_t    *work;   /* dense series scratch */
  sw_llama_state_t *state;  /* dense series: a state on native weights runs the native dense FFN */
  sw_sde_t         *sde;
  double            decode_bytes;  /* FFN weight bytes of the single-token (decode) calls */
  int64_t           decode_calls;
} tm_counted_ffn_t;

/* after - before, field by field (the counts of the calls in between). */
static sw_ffn_stats_t tm_stats_delta(const sw_ffn_stats_t *after, const sw_ffn_stats_t *before) {
  sw_ffn_stats_t d = *after;
  d.flops -= before->flops, d.flops_dense -= before->flops_dense, d.flops_select -= before->flops_select;
  d.weight_bytes -= before->weight_bytes, d.weight_bytes_dense -= before->weight_bytes_dense;
  d.neurons_executed -= before->neurons_executed, d.neurons_total -= before->neurons_total;
  d.rows_read -= before->rows_read, d.experts_executed -= before->experts_executed;
  d.experts_total -= before->experts_total, d.tokens -= before->tokens, d.calls -= before->calls;
  return d;
}

/* The counts of one native dense FFN call of layer l (what sw_llama_native_ffn read and computed). */
static sw_ffn_stats_t tm_native_dense_stats(const sw_llama_t *m, const sw_llama_state_t *s, int l, int n_tok) {
  sw_ffn_stats_t st = {0};
  int            d = m->cfg.d_model, f = m->cfg.d_ff;
  st.flops = st.flops_dense = sw_flops_ffn_dense(d, f, 1, n_tok);
  st.neurons_executed = st.neurons_total = (int64_t)n_tok * f;
  st.tokens = n_tok;
  st.calls = 1;
  st.rows_read = f;
  const sw_llama_family_t fam[3] = {SW_LF_FFN_GATE, SW_LF_FFN_UP, SW_LF_FFN_DOWN};
  for (int i = 0; i < 3; i++) {
    const sw_qmat_t *q = sw_llama_native_mat(m, s, fam[i], l);
    st.weight_bytes += q ? (double)q->row_bytes * q->rows : 0.0;
  }
  st.weight_bytes_dense = st.weight_bytes;
  return st;
}

/* One weight-sparse FFN call of layer l, its counts *st as one FFN call: the kernels' FLOPs and weight bytes (gate,
 * up and down are three kernel calls) plus the SwiGLU product of every neuron, every token's neurons (k of them
 * under top-k), and the dense FFN's FLOPs as the dense series counts them. */
static sw_rc tm_wffn_forward(sw_wffn_t *W, int l, float *out, const float *x, int n_tok, sw_ffn_stats_t *st,
                             sw_err_t *err) {
  sw_ffn_stats_t before = W->stats;
  sw_llama_ffn_t inner = sw_wffn_hook(W);
  sw_rc rc = inner.forward(inner.ctx, l, out, x, n_tok, err);
  *st = tm_stats_delta(&W->stats, &before);
  st->neurons_total = (int64_t)n_tok * W->d_ff;
  st->neurons_executed = (int64_t)n_tok * (W->topk.kind == SW_POLICY_TOPK ? W->topk.k : W->d_ff);
  st->flops += (double)st->neurons_total; /* wffn_swiglu: g * u on every neuron, as sw_flops_ffn_neurons counts */
  st->flops_dense = sw_flops_ffn_dense(W->d_model, W->d_ff, 1, n_tok);
  st->tokens = n_tok, st->calls = 1;
  return rc;
}

static sw_rc tm_counted_forward(void *ctx, int l, float *out, const float *x, int n_tok, sw_err_t *err) {
  tm_counted_ffn_t *h = ctx;
  sw_ffn_stats_t    st = {0};
  sw_rc             rc;
  if (h->wffn) {
    rc = tm_wffn_forward(h->wffn, l, out, x, n_tok, &st, err);
  } else if (h->method) {
    sw_ffn_stats_t before = h->method->layers[l].stats;
    sw_llama_ffn_t inner = sw_method_hook(h->method);
    rc = inner.forward(inner.ctx, l, out, x, n_tok, err);
    st = tm_stats_delta(&h->method->layers[l].stats, &before);
  } else if (h->state && sw_llama_native_ffn(h->model, h->state, l, out, x, n_tok)) {
    st = tm_native_dense_stats(h->model, h->state, l, n_tok);
    rc = SW_OK;
  } else {
    rc = sw_ffn_dense_forward(out, x, &h->model->w.ffn[l], &st, h->work, n_tok);
  }
  if (!rc && h->sde) sw_sde_account(h->sde, &st);
  if (!rc && n_tok == 1) h->decode_bytes += st.weight_bytes, h->decode_calls++;
  return rc;
}

static void tm_counted_attn_input(void *ctx, int l, int site, float *x, int n_tok, int dim) {
  tm_counted_ffn_t *h = ctx;
  sw_llama_ffn_t    inner = sw_method_hook(h->method);
  inner.attn_input(inner.ctx, l, site, x, n_tok, dim);
}

static void tm_counted_q_input(void *ctx, int l, float *x, int n_tok, int dim) {
  tm_counted_ffn_t *h = ctx;
  sw_llama_ffn_t    inner = sw_method_hook(h->method);
  if (inner.q_input) inner.q_input(inner.ctx, l, x, n_tok, dim);
}

static sw_llama_ffn_t tm_counted_hook(tm_counted_ffn_t *h) {
  int            m = h->method && !h->wffn; /* the weight-sparse FFN has no attention hooks (sw_wffn_hook) */
  sw_llama_ffn_t hook = {.forward = tm_counted_forward, .attn_input = m ? tm_counted_attn_input : NULL, .ctx = h,
                         .q_input = m ? tm_counted_q_input : NULL};
  return hook;
}

/* weights_native, and for weights: native the native dense model against the f32 dense model (when not paired):
 * both perplexities, KL and top-1 agreement, and the CPU seconds of the two dense passes (the f32 one gives the
 * reference distributions, so the comparison costs no extra pass). */
static void put_native_dense(sw_trial_out_t *out, const tm_cfg_t *c, const tm_data_t *d) {
  sw_trial_out_metric(out, "weights_native", c->weights_kind == SW_LLAMA_WEIGHTS_NATIVE, "bool");
  if (!d->has_native) return;
  sw_trial_out_metric(out, "ppl_native_dense", d->native_dense.ppl, "ppl");
  sw_trial_out_metric(out, "ppl_native_dense_se", d->native_dense.ppl_se, "ppl");
  sw_trial_out_metric(out, "ppl_f32_dense", d->f32_dense.ppl, "ppl");
  sw_trial_out_metric(out, "ppl_f32_dense_se", d->f32_dense.ppl_se, "ppl");
  sw_trial_out_metric(out, "kl_native_dense", d->native_dense.kl_mean, "nat/token");
  sw_trial_out_metric(out, "top1_native_dense", d->native_dense.top1_agree, "fraction");
  sw_trial_out_metric(out, "f32_ref_cpu_s", d->f32_ref_cpu_s, "s");
  sw_trial_out_metric(out, "native_ref_cpu_s", d->native_ref_cpu_s, "s");
}

/* Bytes of weights one decode step reads: the f32 weight block, or the file's blocks plus the f32 rest. */
static double tm_model_weight_bytes(const tm_cfg_t *c, const sw_llama_t *m) {
  return c->weights_kind == SW_LLAMA_WEIGHTS_NATIVE ? (double)m->q.block_bytes : (double)m->w.block_bytes;
}

/* weights: native claims the file's quantised blocks run: refused when the model has none (a Hugging Face
 * checkpoint directory, or a GGUF of f32/f16 tensors only), where every projection would silently run on f32. */
static sw_rc tm_check_native(const tm_cfg_t *c, const sw_llama_t *m, sw_err_t *err) {
  if (c->weights_kind != SW_LLAMA_WEIGHTS_NATIVE || m->q.block_bytes > 0) return SW_OK;
  return sw_err_set(err, SW_ERR_INVALID, "model: weights: native (the default) is refused for %s: %s has no quantised blocks, so every "
                    "projection would run on f32 (HINT: weights: f32, the same computation honestly labelled)",
                    c->model_path, sw_hf_is_dir(c->model_path) ? "a Hugging Face checkpoint directory" : "the file");
}

/* cache: warm claims the weights are in the cache when a decode step starts: refused when they cannot fit. */
static sw_rc tm_check_cache(const tm_cfg_t *c, const sw_llama_t *m, sw_err_t *err) {
  size_t llc = sw_flush_llc_bytes();
  double bytes = tm_model_weight_bytes(c, m);
  if (strcmp(c->cache, "warm") == 0 && (llc == 0 || bytes > (double)llc))
    return sw_err_set(err, SW_ERR_INVALID, "model: cache: warm is refused: a decode step reads %.1f MB of weights and "
                      "the last-level cache is %s%.1f MB (HINT: cache: cold, which flushes before every timed step)",
                      bytes / 1e6, llc ? "" : "unknown, ", (double)llc / 1e6);
  return SW_OK;
}

/* Prefills per repetition: the repetition's prefill sample is the median of this many prefills of the same prompt,
 * each from an empty state after the cold flush, so one interruption of a single-shot sample (a timer tick, a
 * neighbour's last slice before its quiet check pauses it) cannot move the series (docs/measurement.md). */
#define TM_PREFILL_MEDIAN_OF 3

/* Where a timed interval's wall time went: thread CPU time and involuntary context switches beside it. */
typedef struct tm_timed_acc {
  double  wall_s, cpu_s;
  int64_t intervals, invol; /* timed intervals; involuntary context switches inside them */
} tm_timed_acc_t;

typedef struct tm_mark {
  int64_t cpu_ns;
  long    invol;
} tm_mark_t;

static tm_mark_t tm_mark_now(void) {
  struct timespec ts;
  struct rusage ru;
  tm_mark_t m = {0, 0};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) m.cpu_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
  if (getrusage(RUSAGE_THREAD, &ru) == 0) m.invol = ru.ru_nivcsw;
  return m;
}

/* Adds one timed interval of wall_s that started after mark `from` (read outside the timed region). */
static void tm_acc_add(tm_timed_acc_t *a, tm_mark_t from, double wall_s) {
  tm_mark_t to = tm_mark_now();
  a->wall_s += wall_s;
  a->cpu_s += (double)(to.cpu_ns - from.cpu_ns) * 1e-9;
  a->invol += to.invol - from.invol;
  a->intervals++;
}

/* The prompt's timed prefill, TM_PREFILL_MEDIAN_OF times (flush, empty state, np tokens); *prefill_s is the median
 * and the state ends holding the prompt for the decode steps. */
static sw_rc timed_prefill(const sw_llama_t *m, sw_llama_state_t *st, const sw_llama_ffn_t *ffn, const int32_t *tok,
                           int np, sw_flush_t *flush, tm_timed_acc_t *acc, double *prefill_s, sw_err_t *err) {
  double t[TM_PREFILL_MEDIAN_OF];
  sw_rc rc = SW_OK;
  for (int j = 0; !rc && j < TM_PREFILL_MEDIAN_OF; j++) {
    sw_llama_state_reset(st);
    if (flush) (void)sw_flush_run(flush);
    tm_mark_t mk = tm_mark_now();
    int64_t t0 = sw_now_ns();
    rc = sw_llama_forward(m, st, ffn, tok, np, 1, err);
    t[j] = (double)(sw_now_ns() - t0) * 1e-9;
    tm_acc_add(acc, mk, t[j]);
  }
  *prefill_s = sw_median(t, TM_PREFILL_MEDIAN_OF);
  return rc;
}

/* One timed sequence: the timed prefill of np tokens, then nd single-token decode steps counted by cnt (may be
 * NULL); flush (NULL: warm) evicts the caches before every prefill and decode step, outside the timed regions;
 * acc[0] accounts the prefills, acc[1] the decode steps. */
static sw_rc timed_sequence(const sw_llama_t *m, sw_llama_state_t *st, const sw_llama_ffn_t *ffn, const int32_t *tok,
                            int np, int nd, sw_counters_t *cnt, sw_flush_t *flush, tm_timed_acc_t acc[2],
                            double *prefill_s, double *decode_s, sw_err_t *err) {
  sw_err_t ce;
  sw_rc rc = timed_prefill(m, st, ffn, tok, np, flush, &acc[0], prefill_s, err);
  if (cnt) (void)sw_counters_start(cnt, &ce);
  for (int i = 0; !rc && i < nd; i++) {
    if (flush) { /* the counters would count the flush: pause them around it */
      if (cnt) (void)sw_counters_stop(cnt, &ce);
      (void)sw_flush_run(flush);
      if (cnt) (void)sw_counters_start(cnt, &ce);
    }
    tm_mark_t mk = tm_mark_now();
    int64_t t1 = sw_now_ns();
    rc = sw_llama_forward(m, st, ffn, &tok[np + i], 1, 1, err);
    decode_s[i] = (double)(sw_now_ns() - t1) * 1e-9;
    tm_acc_add(&acc[1], mk, decode_s[i]);
  }
  if (cnt) (void)sw_counters_stop(cnt, &ce);
  return rc;
}

/* The timed regions' accounting of the measured repetitions (warm-up excluded): how the prefill sample was
 * formed, and the share of the timed wall time the thread ran and how often it was preempted. */
static void put_timed_acc(sw_trial_out_t *out, const tm_timed_acc_t acc[2]) {
  sw_trial_out_metric(out, "prefill_median_of", TM_PREFILL_MEDIAN_OF, "count");
  for (int i = 0; i < 2; i++) {
    const tm_timed_acc_t *a = &acc[i];
    sw_trial_out_metric(out, i ? "decode_cpu_fraction" : "prefill_cpu_fraction", a->wall_s > 0 ? a->cpu_s / a->wall_s : NAN,
                        "fraction");
    sw_trial_out_metric(out, i ? "decode_preemptions" : "prefill_preemptions",
                        a->intervals ? (double)a->invol / (double)a->intervals : NAN, "count");
  }
}

/* The adaptive repetitions of one timed phase (sw_reps_decide): the rule from the config, the tracked medians
 * (decode dense / sparse, prefill dense / sparse, and the paired decode and prefill speedups), the repetitions
 * run and why they stopped. */
typedef struct tm_reps {
  sw_reps_rule_t  rule;
  sw_reps_view_t  view;
  int             n;
  sw_reps_verdict stop;
} tm_reps_t;

static const size_t tm_pairs[2][2] = {{0, 1}, {2, 3}}; /* dense_i / sparse_i of decode, then of prefill */
static const char *const tm_tracked_names[6] = {"timing_ci_decode_dense",   "timing_ci_decode_sparse",
                                                "timing_ci_prefill_dense",  "timing_ci_prefill_sparse",
                                                "timing_ci_decode_speedup", "timing_ci_prefill_speedup"};

static sw_reps_rule_t tm_reps_rule(const tm_cfg_t *c) {
  sw_reps_rule_t r = {(size_t)c->reps, (size_t)c->max_repetitions, c->ci_target, 0.95, c->timing_budget_s};
  return r;
}

/* timing_reps, timing_stop and the final relative half-width of every tracked median (NaN below 6 repetitions). */
static void put_reps(sw_trial_out_t *out, const tm_reps_t *R) {
  double w[6];
  (void)sw_reps_widths(&R->view, (size_t)R->n, R->rule.level, w);
  sw_trial_out_metric(out, "timing_reps", R->n, "count");
  sw_trial_out_metric(out, "timing_stop", R->stop, "enum");
  for (int i = 0; i < 6; i++) sw_trial_out_metric(out, tm_tracked_names[i], w[i], "fraction");
}

/* Dense and method timed alternately per repetition (same trial, same machine state), at least repetitions and
 * at most max_repetitions times (tm_reps_t); PAPI/SDE counters of the decode steps (config papi_events) as series
 * decode_dense / decode_sparse.  wffn (NULL: the method) times the sparse series of a pruned model. */
static sw_rc put_timing(sw_trial_out_t *out, const sw_json_t *config, const tm_cfg_t *c, const tm_model_t *m,
                        const tm_data_t *d, sw_method_t *M, sw_wffn_t *wffn, sw_err_t *err) {
  int np = (int)c->prompt_tokens, nd = (int)c->decode_tokens;
  sw_llama_state_t st;
  sw_rc rc = tm_state(&st, c, &m->model, np, np + nd, err);
  if (rc) return rc;
  if (M->native) sw_method_native_bind(M, &st);
  sw_sde_t sde;
  sw_err_t ce;
  int sde_on = sw_sde_init(&sde, NULL, &ce) == SW_OK;
  sw_counters_t *cnt[2] = {NULL, NULL};
  sw_flush_t flush = {0};
  int cold = strcmp(c->cache, "cold") == 0;
  rc = cold ? sw_flush_init(&flush, err) : SW_OK;
  /* A step that streams at least the flush buffer's bytes of weights evicts the cache by itself: when the next
   * step starts, the cache holds the end of the previous step (the last layers and the output layer), which the
   * next step reaches only after reading everything else.  Flushing before such steps only costs wall time. */
  int self_evicting = cold && tm_model_weight_bytes(c, &m->model) >= (double)flush.bytes;
  sw_trial_out_metric(out, "cache_flush_bytes", cold && !self_evicting ? (double)flush.bytes : 0.0, "byte");
  if (!rc) rc = sw_counters_open_config(&cnt[0], config, NULL, err);
  if (!rc) rc = sw_counters_open_config(&cnt[1], config, NULL, err);
  for (int which = 0; which < 2; which++) sw_counters_set_threads(cnt[which], (int)c->threads); /* OpenBLAS, pool */
  double dec[TM_MAX_DECODE], med[2][TM_MAX_REPS], pre[2][TM_MAX_REPS];
  /* every kernel call of both series is accounted (warm-up and prefill too: the counters are read around the
   * decode steps only, and SDE counters only count between start and stop) */
  tm_counted_ffn_t counted[2] = {{NULL, NULL, &m->model, &M->work, &st, sde_on ? &sde : NULL, 0, 0},
                                 {wffn, M, &m->model, NULL, NULL, sde_on ? &sde : NULL, 0, 0}};
  sw_llama_ffn_t hooks[2] = {tm_counted_hook(&counted[0]), tm_counted_hook(&counted[1])};
  tm_timed_acc_t acc[2] = {{0}}, warm_acc[2] = {{0}}; /* prefill, decode; the warm-up's is not reported */
  const double *tracked[4] = {med[0], med[1], pre[0], pre[1]};
  tm_reps_t R = {tm_reps_rule(c), {tracked, 4, tm_pairs, 2}, 0, SW_REPS_MORE};
  int64_t t0 = 0;
  for (int rep = -(int)c->warmup; !rc; rep++) {
    if (rep == 0) t0 = sw_now_ns();
    if (rep >= 0 && (R.stop = sw_reps_decide(&R.rule, &R.view, (size_t)rep, (double)(sw_now_ns() - t0) * 1e-9)))
      break; /* decided between repetitions, outside every timed interval */
    R.n = rep + 1;
    for (int which = 0; !rc && which < 2; which++) {
      double p = 0;
      /* counters over the first `repetitions` only: their sums stay comparable whatever the rule added */
      rc = timed_sequence(&m->model, &st, &hooks[which], d->eval, np, nd, rep < 0 || rep >= c->reps ? NULL : cnt[which],
                          cold && !self_evicting ? &flush : NULL, rep < 0 ? warm_acc : acc, &p, dec, err);
      if (rc || rep < 0) continue;
      med[which][rep] = sw_median(dec, (size_t)nd);
      pre[which][rep] = p;
      sw_trial_out_sample(out, which ? "decode_sparse" : "decode_dense", rep, med[which][rep]);
      sw_trial_out_sample(out, which ? "prefill_sparse" : "prefill_dense", rep, p);
    }
  }
  sw_method_native_bind(M, NULL);
  sw_llama_state_free(&st);
  sw_trial_out_metric(out, "cache_flushed", cold, "bool");
  put_timed_acc(out, acc);
  if (!rc) put_reps(out, &R);
  for (int which = 0; which < 2; which++) /* per decoded token, all layers' FFNs */
    sw_trial_out_metric(out, which ? "decode_ffn_weight_bytes_sparse" : "decode_ffn_weight_bytes_dense",
                        counted[which].decode_calls ? counted[which].decode_bytes * m->model.cfg.n_layer /
                                                          (double)counted[which].decode_calls : 0.0, "byte");
  sw_trial_out_metric(out, "llc_bytes", (double)sw_flush_llc_bytes(), "byte");
  sw_trial_out_metric(out, "model_weight_bytes", tm_model_weight_bytes(c, &m->model), "byte");
  if (cold) sw_flush_free(&flush);
  for (int which = 0; which < 2; which++) {
    if (cnt[which] && !rc) sw_counters_write(cnt[which], out, which ? "decode_sparse" : "decode_dense");
    if (cnt[which]) sw_counters_close(cnt[which]);
  }
  if (sde_on) sw_sde_shutdown(&sde);
  if (rc) return rc;
  size_t n = (size_t)R.n;
  double ratios[TM_MAX_REPS], pr[TM_MAX_REPS];
  for (size_t r = 0; r < n; r++) ratios[r] = med[0][r] / med[1][r], pr[r] = pre[0][r] / pre[1][r];
  double dd = sw_median(med[0], n), ds = sw_median(med[1], n);
  double pd = sw_median(pre[0], n), ps = sw_median(pre[1], n);
  sw_trial_out_metric(out, "decode_s_dense", dd, "s/token");
  sw_trial_out_metric(out, "decode_s_sparse", ds, "s/token");
  sw_trial_out_metric(out, "decode_speedup", sw_median(ratios, n), "ratio");
  sw_trial_out_metric(out, "prefill_tok_s_dense", np / pd, "token/s");
  sw_trial_out_metric(out, "prefill_tok_s_sparse", np / ps, "token/s");
  sw_trial_out_metric(out, "prefill_speedup", sw_median(pr, n), "ratio");
  return SW_OK;
}

/* Mean of the finite values of one per-layer double field (router quality, predictor training) over the sparsified
 * layers (NAN if none). */
static double router_mean(const sw_method_t *M, size_t field) {
  double sum = 0;
  int n = 0;
  for (int l = 0; l < M->n_layer; l++) {
    const double *v = (const double *)((const char *)&M->layers[l] + field);
    if (M->layers[l].sparse && isfinite(*v)) sum += *v, n++;
  }
  return n ? sum / n : NAN;
}

/* MoE methods: what ran (split, router, selection; the name is the unit, as kernel_isa) and the router's
 * held-out recall / precision / predicted density per layer and averaged, mass captured and best epoch. */
static void put_router(sw_trial_out_t *out, const sw_method_t *M) {
  if (!sw_method_is_moe(M->cfg.kind)) return;
  const sw_method_cfg_t *c = &M->cfg;
  sw_trial_out_metric(out, "moe_clustering", (double)c->moe_split, sw_partition_name(c->moe_split));
  sw_trial_out_metric(out, "moe_router", (double)c->moe_router, sw_moe_router_name(c->moe_router));
  sw_trial_out_metric(out, "moe_selection", (double)c->moe_select, sw_moe_select_name(c->moe_select));
  sw_trial_out_metric(out, "moe_experts", (double)c->n_expert, "count");
  sw_moe_router_cfg_t rc;
  sw_method_router_cfg(&rc, c, 0);
  int trained = sw_moe_router_trained(c->moe_router);
  sw_trial_out_metric(out, "router_epochs", trained ? (double)rc.train.epochs : 0.0, "count");
  sw_trial_out_metric(out, "router_lr", trained ? rc.train.lr : 0.0, "lr");
  sw_trial_out_metric(out, "router_batch", trained ? (double)rc.train.batch : 0.0, "count");
  sw_trial_out_metric(out, "router_val_split", rc.val_frac, "fraction");
  static const struct { const char *name; size_t field; } q[] = {
      {"router_recall", offsetof(sw_method_layer_t, rq_recall)},
      {"router_precision", offsetof(sw_method_layer_t, rq_precision)},
      {"router_density", offsetof(sw_method_layer_t, rq_density)},
      {"router_mass_captured", offsetof(sw_method_layer_t, rq_mass_captured)},
      {"router_best_epoch", offsetof(sw_method_layer_t, rq_best_epoch)},
  };
  for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
    double v = router_mean(M, q[i].field);
    if (isfinite(v)) sw_trial_out_metric(out, q[i].name, v, i == 4 ? "epoch" : "fraction");
    for (int l = 0; i < 3 && l < M->n_layer; l++) {
      const double *lv = (const double *)((const char *)&M->layers[l] + q[i].field);
      char name[64];
      snprintf(name, sizeof name, "%s_layer_%02d", q[i].name, l);
      if (M->layers[l].sparse && isfinite(*lv)) sw_trial_out_metric(out, name, *lv, "fraction");
    }
  }
}

/* Deja Vu / PowerInfer: the predictor's recall, precision, predicted and true density on the evaluation tokens, per
 * layer (predictor_*_layer_NN) and averaged over the sparsified layers; the training's kept epoch and epochs run. */
static void put_predictor(sw_trial_out_t *out, const sw_method_t *M) {
  static const char *const names[4] = {"predictor_recall", "predictor_precision", "predictor_density", "true_density"};
  double mean[4] = {0, 0, 0, 0};
  int n = 0;
  if (!sw_method_is_predictor(M->cfg.kind)) return;
  for (int l = 0; l < M->n_layer; l++) {
    double v[4];
    sw_method_predictor_quality(M, l, &v[0], &v[1], &v[2], &v[3]);
    if (!M->layers[l].sparse || isnan(v[2])) continue;
    for (int i = 0; i < 4; i++) {
      char name[64];
      snprintf(name, sizeof name, "%s_layer_%02d", names[i], l);
      sw_trial_out_metric(out, name, v[i], "fraction");
      mean[i] += v[i];
    }
    n++;
  }
  for (int i = 0; i < 4 && n > 0; i++) sw_trial_out_metric(out, names[i], mean[i] / n, "fraction");
  double be = router_mean(M, offsetof(sw_method_layer_t, pred_best_epoch));
  double er = router_mean(M, offsetof(sw_method_layer_t, pred_epochs_run));
  if (isfinite(be)) sw_trial_out_metric(out, "predictor_best_epoch", be, "epoch");
  if (isfinite(er)) sw_trial_out_metric(out, "predictor_epochs_run", er, "epoch");
  sw_trial_out_metric(out, "predictor_lookahead", M->cfg.pred_lookahead, "bool");
  if (M->cfg.kind == SW_METHOD_POWERINFER)
    sw_trial_out_metric(out, "predictor_logit_threshold", M->cfg.pred_logit_thr, "logit");
}

static void put_setup(sw_trial_out_t *out, const tm_data_t *d, const sw_method_t *M, int cached, double calib_s) {
  sw_act_t file_act = M->model->cfg.act; /* value = the sw_act_t code, unit = its name (as kernel_isa) */
  sw_trial_out_metric(out, "activation_model", (double)file_act, sw_act_name(file_act));
  sw_trial_out_metric(out, "activation_run", (double)M->cfg.act, sw_act_name(M->cfg.act));
  sw_trial_out_metric(out, "dense_reference_activation", (double)file_act, sw_act_name(file_act));
  sw_trial_out_metric(out, "calib_byte_start", (double)d->calib_b0, "byte");
  sw_trial_out_metric(out, "calib_byte_end", (double)d->calib_b1, "byte");
  sw_trial_out_metric(out, "eval_byte_start", (double)d->eval_b0, "byte");
  sw_trial_out_metric(out, "eval_byte_end", (double)d->eval_b1, "byte");
  sw_trial_out_metric(out, "calib_tokens", (double)d->n_calib, "count");
  sw_trial_out_metric(out, "eval_tokens", (double)d->n_eval, "count");
  sw_trial_out_metric(out, "calib_cached", cached, "bool");
  sw_trial_out_metric(out, "calib_seconds", calib_s, "s");
  sw_trial_out_metric(out, "model_changed", M->cfg.act != file_act || M->cfg.act_param != 0.0f, "bool");
  sw_trial_out_metric(out, "level", M->cfg.level, "fraction");
  sw_trial_out_metric(out, "method_version", sw_method_version(sw_method_name(M->cfg.kind)), "count");
  sw_trial_out_metric(out, "kernel_isa", (double)M->work.isa, sw_isa_name(M->work.isa)); /* level; name as unit */
}

sw_rc sw_trial_run_model(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err) {
  tm_cfg_t c;
  tm_model_t *m;
  tm_data_t *d;
  sw_calib_data_t *x;
  sw_rc rc = tm_parse(&c, config, err);
  if (rc) return rc;
  openblas_set_num_threads((int)c.threads); /* OpenBLAS threads (the sparse kernels run single-threaded) */
  sw_trial_task_t *task;
  if ((rc = tm_prepare(cache, &c, &m, &d, &x, err)) || (rc = tm_task(cache, config, &c, m, d, &task, err))) return rc;
  if ((rc = tm_check_cache(&c, &m->model, err)) || (rc = tm_check_native(&c, &m->model, err))) return rc;
  sw_method_cfg_t mc;
  if ((rc = method_cfg(&mc, &c, &m->model, err))) return rc;
  sw_trial_prune_t P; /* prunes in place: this runs in the trial's forked child */
  if ((rc = sw_trial_prune_parse(&P, config, err))) return rc;
  if (P.on && c.weights_kind == SW_LLAMA_WEIGHTS_NATIVE) /* pruning edits the f32 weights, not the file's blocks */
    return sw_trial_prune_free(&P), sw_err_set(err, SW_ERR_INVALID, "model: weight_sparsity > 0 needs weights: f32 "
                                                                  "(pruning does not rewrite the quantised blocks)");
  int record = mc.kind != SW_METHOD_DENSE; /* a method calibrates on the pruned model's own inputs */
  if ((rc = sw_trial_prune_apply(&P, &m->model, x, d->calib, d->n_calib, (int)c.window, record, err)))
    return sw_trial_prune_free(&P), rc;
  if (P.on && record) x = &P.x;
  int max_tok = (int)(c.window > c.prompt_tokens ? c.window : c.prompt_tokens);
  sw_method_t M;
  if ((rc = sw_method_init(&M, &m->model, &mc, max_tok, err))) return sw_trial_prune_free(&P), rc;
  if ((rc = sw_ffn_work_set_isa(&M.work, c.isa, err))) {
    sw_method_free(&M);
    return sw_err_prefix(err, "model: kernel_isa");
  }
  if (M.has_moe_work) M.moe_work.isa = M.work.isa;
  int cached = 0;
  double calib_s = 0;
  rc = calibrate(&M, &c, m, d, x, P.tag, &cached, &calib_s, err);
  if (!rc && c.weights_kind == SW_LLAMA_WEIGHTS_NATIVE) rc = sw_method_native(&M, SW_ISA_AUTO, err);
  sw_llama_state_t st;
  memset(&st, 0, sizeof st);
  if (!rc) rc = tm_state(&st, &c, &m->model, (int)c.window, (int)c.window, err);
  if (!rc && M.native) sw_method_native_bind(&M, &st);
  sw_eval_result_t r;
  sw_llama_ffn_t hook = sw_method_hook(&M);
  sw_eval_result_t dense = d->dense;
  M.measure_predictor = 1; /* held-out predictor quality during the evaluation only, not while timing */
  if (!rc && d->paired)
    rc = sw_eval_run_paired(&m->model, &st, &hook, d->eval, d->n_eval, d->eval_bytes, (int)c.window, &r, &dense, err);
  else if (!rc)
    rc = sw_eval_run(&m->model, &st, &hook, d->eval, d->n_eval, d->eval_bytes, (int)c.window, &d->ref, NULL, &r, err);
  sw_method_native_bind(&M, NULL); /* the state's pool goes with it */
  if (st.x) sw_llama_state_free(&st);
  M.measure_predictor = 0;
  if (!rc) {
    put_quality(out, &r, &dense);
    put_predictor(out, &M);
    sw_trial_out_metric(out, "eval_paired", d->paired, "bool");
    put_sparsity(out, &M, &m->model.cfg, 0.5 * (double)c.window);
    put_router(out, &M);
    put_setup(out, d, &M, cached, calib_s);
    sw_trial_out_metric(out, "model_hf", sw_hf_is_dir(c.model_path), "bool"); /* provenance: models/sw_hf.h */
    sw_trial_out_metric(out, "model_sha256", 0, m->model.sha256);              /* the digest as unit, like kernel_isa */
    sw_trial_prune_metrics(&P, out);
    put_native_dense(out, &c, d);
    int same_as_dense = mc.kind == SW_METHOD_DENSE && !P.on && mc.act == SW_ACT_SILU; /* reuse the dense scores */
    if (task) rc = tm_task_run(task, config, &c, m, same_as_dense ? NULL : &M, out, err);
    sw_method_reset_stats(&M);
    sw_wffn_t W;
    int use_w = sw_trial_prune_timed_sparse(&P, mc.kind == SW_METHOD_DENSE || mc.kind == SW_METHOD_TOPK);
    if (!rc) rc = use_w ? sw_wffn_init(&W, &m->model, mc.level, err) : SW_OK;
    int w_live = use_w && !rc; /* sw_wffn_init frees what it built when it fails */
    sw_slot_t slot; /* the timed decode only: loading, calibration and evaluation run in parallel */
    if (!rc && !(rc = sw_slot_acquire(&slot, config, err))) {
      rc = put_timing(out, config, &c, m, d, &M, use_w ? &W : NULL, err);
      sw_slot_release(&slot, out);
    }
    if (w_live) sw_wffn_free(&W);
    sw_trial_out_metric(out, "timing_weight_sparse", use_w, "bool");
  }
  sw_method_free(&M);
  sw_trial_prune_free(&P);
  return rc;
}

sw_rc sw_trial_model_inputs(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_model_inputs_t *in,
                            sw_err_t *err) {
  tm_cfg_t c;
  tm_model_t *m;
  tm_data_t *d;
  sw_calib_data_t *x;
  sw_rc rc = tm_parse(&c, config, err);
  c.weights_kind = SW_LLAMA_WEIGHTS_F32; /* these workloads run their own f32 forward: an f32 dense reference */
  if (!rc) rc = tm_prepare(cache, &c, &m, &d, &x, err);
  if (rc) return rc;
  sw_trial_model_inputs_t v = {&m->model, d->calib, d->eval, d->n_calib, d->n_eval, d->eval_bytes, d->calib_b0,
                               d->calib_b1, d->eval_b0, d->eval_b1, d->paired ? NULL : &d->ref, d->dense,
                               (int)c.window, m->tok};
  *in = v;
  return SW_OK;
}

sw_rc sw_trial_model_task(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_task_t **task, sw_err_t *err) {
  tm_cfg_t c;
  tm_model_t *m;
  tm_data_t *d;
  sw_calib_data_t *x;
  sw_rc rc = tm_parse(&c, config, err);
  c.weights_kind = SW_LLAMA_WEIGHTS_F32; /* as sw_trial_model_inputs */
  if (!rc) rc = tm_prepare(cache, &c, &m, &d, &x, err);
  return rc ? rc : tm_task(cache, config, &c, m, d, task, err);
}

sw_rc sw_trial_model_text_span(sw_trial_cache_t *cache, const sw_json_t *config, const char *text_path, size_t b0,
                               size_t n, sw_trial_model_span_t *span, sw_err_t *err) {
  tm_cfg_t c;
  char key[4096], *text = NULL;
  size_t len = 0;
  sw_rc rc = tm_parse(&c, config, err);
  if (rc) return rc;
  snprintf(key, sizeof key, "model:%s", c.model_path);
  tm_model_t *m = sw_trial_cache_get(cache, key);
  if (!m) {
    if ((rc = load_model(&m, c.model_path, err))) return rc;
    if ((rc = sw_trial_cache_put(cache, key, m, tm_model_destroy))) return sw_err_set(err, rc, "model: cache full");
  }
  if ((rc = read_text(text_path, &text, &len, err))) return rc;
  memset(span, 0, sizeof *span);
  span->model = &m->model;
  span->b0 = b0;
  if (b0 >= len) rc = sw_err_set(err, SW_ERR_RANGE, "model: byte offset %zu beyond the end (%zu bytes)", b0, len);
  if (!rc) rc = tokenize_span(m->tok, text, len, b0, n, &span->ids, &span->bytes, &span->b1, err);
  free(text);
  if (rc) sw_err_prefix(err, "%s", text_path);
  return rc;
}
