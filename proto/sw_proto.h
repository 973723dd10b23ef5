/* sw_proto: the MPI message protocol between rank 0 (orchestrator) and worker ranks, the SW_MPI_CHECK
 * macro, a non-spinning wait (MPI_Iprobe + nanosleep with capped exponential back-off: a blocking
 * MPI_Recv busy-polls a whole core in Open MPI) and the drain-signal flag shared by every rank.
 * Every message is one byte string: magic "SWP1", version, kind, then kind-specific little-endian fields;
 * strings are u32 length + bytes.  Decoding goes through sw_cursor, so a short or corrupt message is an
 * error, never an out-of-bounds read.  Messages travel on one tag (SW_PROTO_TAG) in MPI_COMM_WORLD. */
#ifndef SW_PROTO_H
#define SW_PROTO_H
#include <mpi.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sw_buf.h"
#include "common/sw_err.h"
#include "common/sw_outcome.h"

#define SW_PROTO_MAGIC 0x31505753u /* "SWP1" little-endian */
#define SW_PROTO_VERSION 4 /* 2: results carry the infrastructure flag; 3: results carry sw_outcome_encode;
                              4: ALIVE while a trial runs */
#define SW_PROTO_ALIVE_PERIOD_S 5.0 /* a busy worker says ALIVE this often */
#define SW_PROTO_TAG 4711
#define SW_PROTO_MAX_STRING (256u << 20) /* 256 MiB: bound on any one string field */

/* Reports an MPI failure: fills err with "<call> failed at file:line: <MPI error string>" and returns
 * SW_ERR_MPI.  Used by SW_MPI_CHECK; MPI_COMM_WORLD must use MPI_ERRORS_RETURN (sw_proto_init does it). */
sw_rc sw_proto_mpi_error(sw_err_t *err, int mpi_rc, const char *call, const char *file, int line);

/* Evaluates an MPI call; on failure returns SW_ERR_MPI from the enclosing function with a message
 * naming the call, file and line.  The enclosing function must have `sw_err_t *err` in scope. */
#define SW_MPI_CHECK(call)                                                          \
  do {                                                                              \
    int sw_mpi_rc_ = (call);                                                        \
    if (sw_mpi_rc_ != MPI_SUCCESS)                                                  \
      return sw_proto_mpi_error(err, sw_mpi_rc_, #call, __FILE__, __LINE__);        \
  } while (0)

typedef enum sw_proto_kind {
  SW_PROTO_HELLO = 1,     /* worker -> 0: host name and the worker's environment info (JSON) */
  SW_PROTO_TRIAL = 2,     /* 0 -> worker: run this trial */
  SW_PROTO_RESULT = 3,    /* worker -> 0: outcome of the trial it was given */
  SW_PROTO_INTERRUPT = 4, /* 0 -> worker: stop the running trial now (drain grace expired) */
  SW_PROTO_STOP = 5,      /* 0 -> worker: no more trials; exit the loop with the given exit code */
  SW_PROTO_ALIVE = 6      /* worker -> 0: still running its trial (every SW_PROTO_ALIVE_PERIOD_S) */
} sw_proto_kind;

typedef struct sw_proto_hello {
  int32_t rank;       /* sender's rank in MPI_COMM_WORLD */
  char   *host;       /* owned: host name */
  char   *info_json;  /* owned: JSON object from sw_worker_rank_env_info() */
} sw_proto_hello_t;

typedef struct sw_proto_trial {
  uint64_t slot;        /* the orchestrator's index of the trial (echoed back in the result) */
  uint32_t attempt;     /* 1 for the first attempt, 2.. for retries */
  double   timeout_s;   /* per-trial timeout in seconds (0 = none) */
  char    *config_json; /* owned: the trial's canonical config JSON */
} sw_proto_trial_t;

/* The RESULT message: which trial attempt, on which host, and its outcome (common/sw_outcome.h, the same type
 * the executor produced and the store records; encoded with its one codec). */
typedef struct sw_proto_result {
  uint64_t     slot;    /* as in the trial message */
  uint32_t     attempt; /* as in the trial message */
  char        *host;    /* owned: host that ran the trial */
  sw_outcome_t outcome; /* owned strings; outcome.infra = 1: an infrastructure failure (executor cannot start or
                           fork, worker I/O error), not the trial's own: rank 0 requeues the trial elsewhere and
                           counts it against the rank */
} sw_proto_result_t;

/* A decoded message of any kind. */
typedef struct sw_proto_msg {
  sw_proto_kind kind;
  int           source; /* sender rank */
  union {
    sw_proto_hello_t  hello;
    sw_proto_trial_t  trial;
    sw_proto_result_t result;
    int32_t           stop_exit_code; /* SW_PROTO_STOP: the status every rank exits with */
  } u;
} sw_proto_msg_t;

/* Encoders: append one complete message to dst (check sw_buf_ok afterwards). */
void sw_proto_encode_hello(sw_buf_t *dst, const sw_proto_hello_t *m);
void sw_proto_encode_trial(sw_buf_t *dst, const sw_proto_trial_t *m);
void sw_proto_encode_result(sw_buf_t *dst, const sw_proto_result_t *m);
void sw_proto_encode_stop(sw_buf_t *dst, int32_t exit_code);
/* A message without a body (SW_PROTO_INTERRUPT, SW_PROTO_ALIVE). */
void sw_proto_encode_empty(sw_buf_t *dst, sw_proto_kind kind);

/* Decodes one message of len bytes into *out (zeroed first).  SW_ERR_PARSE / SW_ERR_TRUNCATED with a
 * message on bad magic, version, kind or short fields.  Free with sw_proto_msg_free (also after errors). */
sw_rc sw_proto_decode(const void *bytes, size_t len, sw_proto_msg_t *out, sw_err_t *err);
/* Frees the owned strings of a decoded message and zeroes it. */
void sw_proto_msg_free(sw_proto_msg_t *m);
/* Frees the owned strings of a result (decoded, or filled by a worker or local backend) and zeroes it;
 * NULL-safe. */
void sw_proto_result_free(sw_proto_result_t *r);

/* Capped exponential back-off for polling loops: sleep starts at min_ns and grows by half each idle
 * poll up to max_ns; sw_proto_backoff_reset() after activity. */
typedef struct sw_proto_backoff {
  int64_t min_ns;   /* first sleep, nanoseconds */
  int64_t max_ns;   /* cap, nanoseconds */
  int64_t cur_ns;   /* next sleep, nanoseconds */
} sw_proto_backoff_t;

/* Sets the bounds (min_ns <= 0 becomes 1 µs; max_ns below min_ns becomes min_ns) and cur_ns = min_ns. */
void sw_proto_backoff_init(sw_proto_backoff_t *bo, int64_t min_ns, int64_t max_ns);
/* Back to the shortest sleep (call after a poll found work). */
void sw_proto_backoff_reset(sw_proto_backoff_t *bo);
/* Sleeps cur_ns (nanosleep) and grows cur_ns. */
void sw_proto_backoff_sleep(sw_proto_backoff_t *bo);

/* Sets MPI_ERRORS_RETURN on MPI_COMM_WORLD so that SW_MPI_CHECK sees failures. Call after MPI_Init. */
sw_rc sw_proto_init(sw_err_t *err);

/* One non-blocking check for a protocol message from `source` (MPI_ANY_SOURCE allowed): when one is
 * waiting, receives and decodes it into *msg (free with sw_proto_msg_free) and sets *got = 1; otherwise
 * *got = 0 and returns at once.  A message that does not decode is an error naming the sender. */
sw_rc sw_proto_try_recv(int source, sw_proto_msg_t *msg, int *got, sw_err_t *err);

/* Sends an encoded message (blocking MPI_Send; the peer is always polling when rank 0 sends). */
sw_rc sw_proto_send(const sw_buf_t *msg, int dest, sw_err_t *err);

/* --- Drain signals --------------------------------------------------------------------------------
 * SIGTERM and SIGUSR1 (a batch scheduler's walltime warning; mpirun forwards SIGUSR1 to every rank)
 * must not kill a rank: rank 0 turns them into "stop dispatching and drain", workers finish their
 * trial and wait for rank 0's STOP.  Handlers are reset to the default by exec, so the executor and
 * trial children are not affected. */

/* Installs the SIGTERM/SIGUSR1/SIGINT handlers (idempotent).  Returns SW_ERR_IO if sigaction fails. */
sw_rc sw_proto_signals_install(sw_err_t *err);
/* The number of the last drain signal received since start-up, 0 when none. */
int sw_proto_signal_received(void);
/* How many drain signals were received since start-up (a second one means "interrupt now"). */
int sw_proto_signal_count(void);

#endif
