/* sw_executor_proto: private framing shared by the worker side (sw_executor.c) and the executor process
 * (sw_executor_serve.c).  A frame is an 8-byte little-endian header {u32 type, u32 length} and a payload;
 * the socket is a local AF_UNIX stream between two processes of the same binary. */
#ifndef SW_EXECUTOR_PROTO_H
#define SW_EXECUTOR_PROTO_H
#include <stddef.h>
#include <stdint.h>

#include "common/sw_buf.h"
#include "common/sw_err.h"
#include "workers/sw_executor.h"

enum {
  SW_EXEC_MSG_HELLO = 1,     /* executor -> worker: {u32 protocol version, u32 pid} */
  SW_EXEC_MSG_RUN = 2,       /* worker -> executor: {f64 timeout_s, f64 grace_s, u64 mem_limit, config bytes} */
  SW_EXEC_MSG_INTERRUPT = 3, /* worker -> executor: stop the running trial (drain) */
  SW_EXEC_MSG_QUIT = 4,      /* worker -> executor: exit */
  SW_EXEC_MSG_RESULT = 5,    /* executor -> worker: an encoded sw_outcome_t */
  SW_EXEC_MSG_STARTED = 6,   /* executor -> worker: RUN received (an executor death before it: resubmit) */
  SW_EXEC_MSG_FORKED = 7     /* executor -> worker: the workload's prepare step is done, the trial child runs */
};
#define SW_EXEC_PROTOCOL 4 /* 2: results carry the infrastructure flag; 3: the payload is sw_outcome_encode;
                              4: FORKED separates the prepare step from the trial */
#define SW_EXEC_FRAME_MAX ((uint32_t)1 << 30) /* 1 GiB: larger frames are a protocol error */

/* Per-trial execution parameters (after defaults and config overrides). */
typedef struct sw_exec_params {
  double   timeout_s; /* <= 0: none */
  double   grace_s;
  uint64_t mem_limit; /* bytes of address space over the parent's; UINT64_MAX: none */
} sw_exec_params_t;

/* Sends one frame (MSG_NOSIGNAL: a dead peer gives SW_ERR_IO, never SIGPIPE). */
sw_rc sw_exec_send(int fd, uint32_t type, const void *payload, size_t len, sw_err_t *err);
/* Blocks until one whole frame arrived.  *eof = 1 (and SW_OK) when the peer closed before a header. */
sw_rc sw_exec_recv(int fd, uint32_t *type, sw_buf_t *payload, int *eof, sw_err_t *err);

/* Appends res as a RESULT payload (sw_outcome_encode). */
void  sw_exec_encode_result(const sw_outcome_t *res, sw_buf_t *b);
/* Parses a RESULT payload (sw_outcome_decode, no trailing bytes) into res (caller frees it with sw_outcome_free;
 * on an error res is left empty): SW_ERR_TRUNCATED / SW_ERR_PARSE on a short or malformed payload. */
sw_rc sw_exec_decode_result(const void *payload, size_t len, sw_outcome_t *res, sw_err_t *err);

/* Defaults: grace 2 s, memory limit 80% of physical RAM, start timeout 60 s, watchdog slack 30 s. */
void sw_exec_opts_defaults(const sw_executor_opts_t *in, sw_executor_opts_t *out);

/* Runs one trial in a forked child of the calling process (the executor's core).  ctl_fd >= 0 is watched for
 * INTERRUPT/QUIT frames while the child runs; *quit is set when QUIT or EOF arrived there. */
sw_rc sw_exec_trial(sw_trial_cache_t *cache, const char *config, size_t config_len, const sw_exec_params_t *p,
                    int ctl_fd, sw_outcome_t *res, int *quit, sw_err_t *err);

#endif
