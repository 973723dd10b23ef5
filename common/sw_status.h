/* sw_status: the status of one trial, shared by the executor (workers/), the MPI protocol and the results
 * store (results/), which writes it as text in trials.status.  Values are explicit and never reused. */
#ifndef SW_STATUS_H
#define SW_STATUS_H

typedef enum sw_trial_status {
  SW_TRIAL_OK = 0,          /* measured: the workload returned SW_OK and wrote its result */
  SW_TRIAL_FAILED = 1,      /* crash (signal), non-zero exit, workload error, out of memory, executor death */
  SW_TRIAL_TIMEOUT = 2,     /* exceeded its timeout: SIGTERM, then SIGKILL after the grace period */
  SW_TRIAL_INTERRUPTED = 3, /* stopped because the sweep was drained (SIGTERM/SIGUSR1) while it ran */
  SW_TRIAL_SKIPPED = 4,     /* not run (e.g. the circuit breaker tripped) */
  SW_TRIAL_STATUS_COUNT
} sw_trial_status;

#endif
