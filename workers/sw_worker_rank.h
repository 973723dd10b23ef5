/* sw_worker_rank: what a worker rank (rank >= 1) does under `sparsweep run`: start one executor process
 * (workers/sw_executor.h; kept across trials so its cache of loaded models/calibration survives), say
 * hello to rank 0 with its host and library facts, then receive a trial, run it, send the result, until
 * rank 0 says STOP.  Waiting for rank 0 never spins (MPI_Iprobe + nanosleep back-off); while a trial runs
 * the rank sleeps in poll() on the executor and checks for an INTERRUPT from rank 0 between slices.
 * The same executor wrapper is the local backend rank 0 uses with -np 1 (sw_orch_local_t). */
#ifndef SW_WORKER_RANK_H
#define SW_WORKER_RANK_H

#include "common/sw_buf.h"
#include "common/sw_err.h"
#include "proto/sw_proto.h"

/* Appends a JSON object with this process's host and library facts to dst:
 * {"host":..,"openblas_config":..,"openblas_corename":..,"papi":<sw_counters_describe object or null>}.
 * Never fails (facts it cannot get are omitted or null). */
void sw_worker_rank_env_info(sw_buf_t *dst);

/* The worker loop for rank `rank` (>= 1) of an initialised MPI job.  exe_path is the sparsweep binary
 * for the executor (NULL = /proc/self/exe).  Returns SW_OK after STOP with *exit_code set to the code
 * rank 0 sent; an error (MPI failure) otherwise.  SIGTERM gets the drain-flag handler and SIGUSR1 is
 * ignored (inherited through exec by the executor and its trials), so neither signal forwarded by
 * mpirun/srun kills the rank or its running trial: rank 0 alone decides about draining. */
sw_rc sw_worker_rank_loop(int rank, const char *exe_path, int *exit_code, sw_err_t *err);

/* -np 1 backend: an executor driven from rank 0 itself.  The callbacks match sw_orch_local_t. */
typedef struct sw_worker_local sw_worker_local_t;

/* Starts the executor.  *out is freed with sw_worker_local_destroy. */
sw_rc sw_worker_local_new(sw_worker_local_t **out, const char *exe_path, sw_err_t *err);
/* Stops the executor and frees; NULL-safe, sets *lp = NULL. */
void sw_worker_local_destroy(sw_worker_local_t **lp);
/* Host name (borrowed). */
const char *sw_worker_local_host(const sw_worker_local_t *l);
/* sw_worker_rank_env_info text (borrowed). */
const char *sw_worker_local_info(const sw_worker_local_t *l);
/* sw_orch_local_t.submit: starts a trial. ctx is the sw_worker_local_t. */
sw_rc sw_worker_local_submit(void *ctx, const sw_proto_trial_t *trial, sw_err_t *err);
/* sw_orch_local_t.wait: *done = 1 and *res filled (strings malloc'd, caller frees) when the trial ended. */
sw_rc sw_worker_local_wait(void *ctx, int wait_ms, sw_proto_result_t *res, int *done, sw_err_t *err);
/* sw_orch_local_t.interrupt. */
sw_rc sw_worker_local_interrupt(void *ctx, sw_err_t *err);

#endif
