/* libFuzzer target: experiment-file loading, the declared-key check (experiments/sw_keys.h) and grid
 * expansion on arbitrary bytes.  Must never crash,
 * leak or hang; on success every trial must carry a 64-hex-digit hash and a JSON object config. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/sw_expfile.h"
#include "experiments/sw_grid.h"
#include "experiments/sw_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sw_experiment_t *e = NULL;
  sw_trial_list_t trials = {0};
  sw_err_t err;
  if (sw_expfile_load_mem("fuzz.yaml", (const char *)data, size, &e, &err) != SW_OK) {
    if (strncmp(err.msg, "fuzz.yaml", 9) != 0) abort(); /* every error names the file */
    return 0;
  }
  if (sw_keys_check_experiment(e, &err) != SW_OK && strncmp(err.msg, "fuzz.yaml", 9) != 0) abort();
  /* Keep each input cheap: the fuzzer is after parser bugs, not big grids. */
  if (e->max_trials > 2000) e->max_trials = 2000;
  if (sw_grid_expand(e, &trials, &err) == SW_OK) {
    for (size_t i = 0; i < trials.count; i++)
      if (strlen(trials.items[i].hash) != 64 || trials.items[i].config_json[0] != '{') abort();
  } else if (strncmp(err.msg, "fuzz.yaml", 9) != 0) {
    abort();
  }
  sw_trial_list_free(&trials);
  sw_experiment_free(e);
  return 0;
}
