/* Placeholder for the "model" workload so the workload table links; replaced by its owner's implementation. */
#include "workers/sw_trial.h"

sw_rc sw_trial_run_model(sw_trial_cache_t *cache, const sw_json_t *config, sw_trial_out_t *out, sw_err_t *err) {
  (void)cache;
  (void)config;
  (void)out;
  return sw_err_set(err, SW_ERR_UNSUPPORTED, "workload 'model' is not implemented in this build yet");
}
