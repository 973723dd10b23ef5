/* sw_trial_prune: weight pruning in the model workload (README.md, "Weight sparsity beside activation sparsity").  Config keys (defaults in parentheses):
 *   weight_sparsity (0)              fraction of every linear layer's weights (q, k, v, o, gate, up, down) set to
 *                                    zero; 0 = no pruning (unless prune_pattern is 2:4)
 *   prune ("magnitude")              magnitude | wanda | sparsegpt (models/sw_prune.h)
 *   prune_pattern ("unstructured")   unstructured | 2:4 (2:4 is 50 % whatever weight_sparsity says)
 * The model is pruned in place in the trial's forked child (workers/sw_executor_serve.c forks one per trial),
 * so the executor's cached dense model, its dense reference distributions and its calibration inputs stay
 * dense; the pruners calibrate on the dense model's recorded inputs (one-shot), and the activation method
 * then calibrates on inputs recorded again from the pruned model.  Metrics: weight_sparsity, weight_sparsity_achieved
 * (zero fraction of the linear layers), prune_seconds, timing_weight_sparse.
 * Timing of a pruned model: with method dense or topk the sparse side of the decode/prefill timing runs the
 * weight-sparse FFN (models/sw_wffn.h: CSR gate/up, spMspV down over all or the top-k neurons); the dense side
 * runs the dense kernels over the same weights (as fast as the unpruned model).  Attention projections are
 * pruned for quality but still timed dense.  With the other methods the sparse side is the method's kernels
 * over the pruned weights stored densely (timing_weight_sparse = 0). */
#ifndef SW_TRIAL_PRUNE_H
#define SW_TRIAL_PRUNE_H
#include "common/sw_json.h"
#include "models/sw_calib.h"
#include "models/sw_prune.h"
#include "workers/sw_trial.h"

typedef struct sw_trial_prune {
  int             on;
  sw_prune_cfg_t  cfg;
  double          achieved, seconds;
  sw_calib_data_t x;        /* FFN/attention inputs recorded on the pruned model (when on) */
  char            tag[128]; /* appended to the model hash in calibration cache keys: "+prune:wanda:2:4:0.5" */
} sw_trial_prune_t;

/* Reads the three keys; errors name the key and value. */
sw_rc sw_trial_prune_parse(sw_trial_prune_t *p, const sw_json_t *config, sw_err_t *err);
/* Prunes m in place from x_dense, then (when record) records p->x on the pruned model over the calibration
 * tokens for the activation method's calibration. */
sw_rc sw_trial_prune_apply(sw_trial_prune_t *p, sw_llama_t *m, const sw_calib_data_t *x_dense, const int32_t *calib,
                           size_t n_calib, int window, int record, sw_err_t *err);
/* 1 when the trial's timing should use the weight-sparse FFN (pruning on and the method supports it). */
int   sw_trial_prune_timed_sparse(const sw_trial_prune_t *p, int method_supported);
void  sw_trial_prune_metrics(const sw_trial_prune_t *p, sw_trial_out_t *out);
void  sw_trial_prune_free(sw_trial_prune_t *p);

#endif
