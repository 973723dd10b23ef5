/* sw_trial_task: the model workload's multiple-choice evaluation (models/sw_mctask.h).  Config keys:
 *   task ("")                 "" none | "cloze" (the built-in cloze task from the trial's text) | a JSONL path
 *   task_items (0)            items used: 0 = the whole file, or 200 for cloze
 *   task_offset (-1)          cloze: first byte of its span (-1: the first line start at or after 3/4 of the text)
 *   task_bytes (400000)       cloze: bytes of the span (clipped at the end of the text)
 *   task_choices (4)          cloze: choices per item, gold included (2..32)
 *   task_context_bytes (384)  cloze: approximate context length in bytes (16..32768)
 *   task_seed (1)             cloze: seed of the distractor draw
 *   task_ctx (512)            positions per scored sequence (longer contexts lose their start), 16..8192
 * The task and the dense model's scores are prepared once per executor (same items, same weights as the trial);
 * each trial scores its method on the same items and reports both and the paired difference. */
#ifndef SW_TRIAL_TASK_H
#define SW_TRIAL_TASK_H
#include "common/sw_json.h"
#include "models/sw_llama.h"
#include "models/sw_mctask.h"
#include "workers/sw_trial.h"

typedef struct sw_trial_task_cfg {
  const char *task;
  int64_t     items, offset, bytes, choices, context_bytes, seed, ctx;
} sw_trial_task_cfg_t;

/* The prepared task: items and the dense run's scores. */
typedef struct sw_trial_task {
  sw_mctask_t    task;
  sw_mc_scores_t dense;
  size_t         span_b0, span_b1; /* cloze: byte span of the text; 0, 0 for a file */
} sw_trial_task_t;

sw_rc sw_trial_task_parse(sw_trial_task_cfg_t *c, const sw_json_t *j, sw_err_t *err);
static inline int sw_trial_task_on(const sw_trial_task_cfg_t *c) { return c->task && *c->task; }

/* Where the task comes from, for the trial cache key and the error messages. */
typedef struct sw_trial_task_src {
  const char *text_path;         /* the trial's text (cloze) */
  size_t      calib_b0, calib_b1; /* the calibration span: a cloze span must not overlap it */
  const char *weights;           /* the trial's weights name (part of the cache key) */
} sw_trial_task_src_t;

/* Finds or builds the task and its dense scores (s: a state on the trial's weights with n_ctx = c->ctx). */
sw_rc sw_trial_task_prepare(sw_trial_cache_t *cache, const sw_trial_task_cfg_t *c, const sw_trial_task_src_t *src,
                            const sw_llama_t *m, sw_llama_state_t *s, const sw_tokenizer_t *tok,
                            sw_trial_task_t **out, sw_err_t *err);
/* Scores the method (ffn) on the task's items and writes the task metrics (method, dense, paired).  ffn NULL:
 * the trial is the dense model itself, whose prepared scores are reused. */
sw_rc sw_trial_task_run(const sw_trial_task_t *t, const sw_llama_t *m, sw_llama_state_t *s, const sw_llama_ffn_t *ffn,
                        const sw_tokenizer_t *tok, sw_trial_out_t *out, sw_err_t *err);
/* The same with before(before_ctx, i) called before item i is scored (models/sw_mctask.h, sw_mc_score_each). */
sw_rc sw_trial_task_run_each(const sw_trial_task_t *t, const sw_llama_t *m, sw_llama_state_t *s,
                             const sw_llama_ffn_t *ffn, sw_mc_before_item_fn before, void *before_ctx,
                             const sw_tokenizer_t *tok, sw_trial_out_t *out, sw_err_t *err);

#endif
