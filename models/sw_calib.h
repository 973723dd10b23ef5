/* sw_calib: calibration of sw_method on text disjoint from the evaluation text.  The dense model (with the
 * method's activation) runs over the calibration tokens while a recorder keeps every layer's FFN input;
 * from those inputs each layer gets its method's parameters: CATS per-layer and CHESS per-channel thresholds,
 * CETT ε, TEAL thresholds, MoE expert clustering + routers (D2DMoE MSE on expert norms, MoEfication BCE),
 * Deja Vu predictors (docs/methods.md §2-§8).  Results are cached on disk, keyed by model hash, calibration span
 * and method parameters, and reused by later trials and runs. */
#ifndef SW_CALIB_H
#define SW_CALIB_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "models/sw_llama.h"
#include "models/sw_method.h"

#define SW_CALIB_CETT_TOKENS 128 /* CETT bisection uses at most this many tokens per layer (cost) */

typedef struct sw_calib_data {
  int      n_layer, d_model;
  int      n_tok;      /* calibration tokens recorded per layer */
  sw_act_t act;        /* activation the model ran with */
  float    act_param;
  float   *x;          /* (n_layer, n_tok, d_model) FFN inputs (after ffn_norm) */
  float   *a;          /* (n_layer, SW_LLAMA_SITES, n_tok, d_model) attention projection inputs: the normed block
                          input (q/k/v) and the attention output (o_proj); n_head*head_dim == d_model */
  int32_t *tokens;     /* (n_tok) the calibration tokens (owned copy), for sequential calibration */
  int      window;     /* tokens per window (each window is an independent sequence) */
} sw_calib_data_t;

/* Runs the dense model (activation act) over tokens in windows of `window` and records every layer's FFN
 * inputs.  Free with sw_calib_data_free. */
sw_rc sw_calib_collect(sw_calib_data_t *cd, const sw_llama_t *m, sw_act_t act, float act_param, const int32_t *tokens,
                       size_t n_tokens, int window, sw_err_t *err);
void  sw_calib_data_free(sw_calib_data_t *cd);

/* Calibrates every sparsified layer of meth from cd (which must come from the same activation).  TEAL is
 * calibrated sequentially on cd's tokens (models/sw_calib_teal.c), every other method on cd's dense inputs. */
sw_rc sw_calib_method(sw_method_t *meth, const sw_calib_data_t *cd, sw_err_t *err);

/* Whether a method's calibration depends on its level: not for D2DMoE and MoEfication, whose expert split and
 * router training never read it (only the run-time selection does), so one cached router serves every τ or
 * fraction skipped; LTE's η and every threshold method's level are part of the calibration. */
int sw_calib_uses_level(const sw_method_cfg_t *cfg);
/* Held-out router quality (recall, precision, density, mass captured) of every sparsified MoE layer of meth at
 * its own level, on the tail of cd's tokens the router training held out (sw_moe_router_n_train); the best
 * epoch is kept.  Call after sw_calib_load, which restores routers without it.  No-op for other methods. */
sw_rc sw_calib_router_quality(sw_method_t *meth, const sw_calib_data_t *cd, sw_err_t *err);

/* The disk-cache key of a calibration: model hash, calibration span text and every method parameter that
 * changes the calibration (the level only when sw_calib_uses_level). */
void sw_calib_key(char *key, size_t len, const sw_method_t *meth, const char *model_sha, const char *span);
/* Saves / loads a calibrated method under dir/calib-<sha256(key)>.bin (atomic rename on save).  Load
 * returns SW_ERR_NOTFOUND when there is no entry; any mismatch (version, key, shapes) is SW_ERR_PARSE. */
sw_rc sw_calib_save(const sw_method_t *meth, const char *dir, const char *key, sw_err_t *err);
sw_rc sw_calib_load(sw_method_t *meth, const char *dir, const char *key, sw_err_t *err);

#endif
