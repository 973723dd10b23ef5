/* sw_tally: the run summary as the database holds it.  After the last commit rank 0 counts, for its run,
 * each trial's last attempt by status, the attempts, and the planned trials that have no final result
 * (what a resume will run), so a summary never claims results a failed commit lost. */
#ifndef SW_TALLY_H
#define SW_TALLY_H
#include <stdint.h>

#include "common/sw_err.h"
#include "experiments/sw_grid.h"
#include "results/sw_store.h"

typedef struct sw_tally {
  int64_t ok;          /* trials whose last attempt in the run is ok */
  int64_t failed;      /* ... failed (crash, exit status, workload error, out of memory) */
  int64_t timeout;     /* ... timeout */
  int64_t interrupted; /* ... interrupted (a drain, or a rank that stopped answering) */
  int64_t attempts;    /* trial rows of the run */
  int64_t not_run;     /* planned trials without an ok/failed/timeout row in the run: a resume runs them */
} sw_tally_t;

/* Counts run_id's rows in st.  planned[i] != 0 marks trials[i] as one this invocation had to run.
 * SW_ERR_DB naming the database when a query fails (then *out is zeroed). */
sw_rc sw_tally_run(sw_store_t *st, int64_t run_id, const sw_trial_list_t *trials, const unsigned char *planned,
                   sw_tally_t *out, sw_err_t *err);

#endif
