/* sw_trial_prune: weight pruning in the model workload (see workers/sw_trial_prune.h). */
#include "workers/sw_trial_prune.h"

#include <stdio.h>
#include <string.h>

#include "common/sw_time.h"
#include "experiments/sw_keys.h"

sw_rc sw_trial_prune_parse(sw_trial_prune_t *p, const sw_json_t *config, sw_err_t *err) {
  memset(p, 0, sizeof *p);
  const char *method = NULL, *pattern = NULL;
  const sw_keytable_t *t = sw_keytable("prune"); /* experiments/sw_keys_table.c */
  sw_rc       rc = sw_key_num(t, config, "weight_sparsity", &p->cfg.sparsity, err);
  if (!rc) rc = sw_key_str(t, config, "prune", &method, err);
  if (!rc) rc = sw_key_str(t, config, "prune_pattern", &pattern, err);
  if (!rc) rc = sw_prune_method_parse(method, &p->cfg.method, err);
  if (!rc) rc = sw_prune_pattern_parse(pattern, &p->cfg.pattern, err);
  if (rc) return rc;
  if (!(p->cfg.sparsity >= 0.0 && p->cfg.sparsity < 1.0))
    return sw_err_set(err, SW_ERR_RANGE, "model: weight_sparsity %g outside [0, 1)", p->cfg.sparsity);
  p->on = p->cfg.sparsity > 0.0 || p->cfg.pattern == SW_PRUNE_NM24;
  if (p->on)
    snprintf(p->tag, sizeof p->tag, "+prune:%s:%s:%.9g", method, pattern,
             p->cfg.pattern == SW_PRUNE_NM24 ? 0.5 : p->cfg.sparsity);
  return SW_OK;
}

sw_rc sw_trial_prune_apply(sw_trial_prune_t *p, sw_llama_t *m, const sw_calib_data_t *x_dense, const int32_t *calib,
                           size_t n_calib, int window, int record, sw_err_t *err) {
  if (!p->on) return SW_OK;
  int64_t t0 = sw_now_ns();
  sw_rc   rc = sw_prune_model(m, x_dense, &p->cfg, &p->achieved, err);
  p->seconds = (double)(sw_now_ns() - t0) * 1e-9;
  if (!rc && record) rc = sw_calib_collect(&p->x, m, x_dense->act, x_dense->act_param, calib, n_calib, window, err);
  return rc;
}

int sw_trial_prune_timed_sparse(const sw_trial_prune_t *p, int method_supported) { return p->on && method_supported; }

void sw_trial_prune_metrics(const sw_trial_prune_t *p, sw_trial_out_t *out) {
  sw_trial_out_metric(out, "weight_sparsity", p->on ? (p->cfg.pattern == SW_PRUNE_NM24 ? 0.5 : p->cfg.sparsity) : 0.0,
                      "fraction");
  sw_trial_out_metric(out, "weight_sparsity_achieved", p->achieved, "fraction");
  sw_trial_out_metric(out, "prune_seconds", p->seconds, "s");
}

void sw_trial_prune_free(sw_trial_prune_t *p) {
  if (p->on && p->x.x) sw_calib_data_free(&p->x);
  memset(p, 0, sizeof *p);
}
