/* sw_trial_model: what the "model" workload prepares (workers/sw_trial_model.c), exported for workloads that
 * evaluate the same model on the same spans (workers/sw_trial_attrib.c). */
#ifndef SW_TRIAL_MODEL_H
#define SW_TRIAL_MODEL_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_err.h"
#include "common/sw_json.h"
#include "models/sw_eval.h"
#include "models/sw_llama.h"
#include "models/sw_tokenizer.h"
#include "workers/sw_trial.h"
#include "workers/sw_trial_task.h"

/* Borrowed views of executor-cache entries (valid as long as the cache). */
typedef struct sw_trial_model_inputs {
  const sw_llama_t    *model;
  const int32_t       *calib, *eval;       /* token ids of the calibration and evaluation spans */
  size_t               n_calib, n_eval;
  const uint32_t      *eval_bytes;         /* UTF-8 bytes per evaluation token */
  size_t               calib_b0, calib_b1, eval_b0, eval_b1; /* byte spans [b0, b1) in the text file */
  const sw_eval_ref_t *ref;                /* dense reference on the evaluation span; NULL in paired mode */
  sw_eval_result_t     dense;              /* dense quality on the evaluation span (zero in paired mode) */
  int                  window;             /* tokens per evaluation window */
  const sw_tokenizer_t *tok;               /* the model's tokenizer */
} sw_trial_model_inputs_t;

/* Parses the model workload's keys of config (model, text, calib_tokens, eval_tokens, window, offsets,
 * ref_mb, ...), loads or finds the model, spans and the f32 dense reference in the cache, and fills in. */
sw_rc sw_trial_model_inputs(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_model_inputs_t *in,
                            sw_err_t *err);

/* The config's multiple-choice task (keys task*, workers/sw_trial_task.h) with its dense scores on the f32
 * weights, prepared once per executor like the model workload's; *task = NULL when the config has none. */
sw_rc sw_trial_model_task(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_task_t **task, sw_err_t *err);

/* n tokens of text_path from byte b0 tokenised with the config's model (loaded or found in the cache). */
typedef struct sw_trial_model_span {
  const sw_llama_t *model;  /* borrowed from the cache */
  int32_t          *ids;    /* (n) token ids (owned: free) */
  uint32_t         *bytes;  /* (n) UTF-8 bytes per token (owned: free) */
  size_t            b0, b1; /* byte span [b0, b1) */
} sw_trial_model_span_t;

/* Errors name the file (SW_ERR_IO when unreadable, SW_ERR_RANGE when it holds fewer than n tokens after b0). */
sw_rc sw_trial_model_text_span(sw_trial_cache_t *cache, const sw_json_t *config, const char *text_path, size_t b0,
                               size_t n, sw_trial_model_span_t *span, sw_err_t *err);

#endif
