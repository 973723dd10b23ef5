/* sw_proto: encoding/decoding of rank-0 <-> worker messages, checked MPI send/receive helpers, polling
 * back-off and the drain-signal flag.  Layout of every message: u32 magic, u16 version, u16 kind, body. */
#include "proto/sw_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/sw_cursor.h"

/* The one piece of mutable file-scope state of the MPI layer: POSIX signal handlers get no user
 * pointer, so the only async-signal-safe way to hand "SIGTERM arrived" to the polling loops is a
 * volatile sig_atomic_t.  It packs the number of drain signals received so far and the last signal
 * number as count * SW_PROTO_SIGNAL_BASE + signo.  Only s_on_drain_signal writes it (the other drain
 * signals are blocked while it runs, so its read-modify-write cannot interleave with itself). */
#define SW_PROTO_SIGNAL_BASE 128
static volatile sig_atomic_t s_drain_signals;

static void s_on_drain_signal(int signo) {
  int count = (int)s_drain_signals / SW_PROTO_SIGNAL_BASE;
  if (count < 1000) count++;
  s_drain_signals = (sig_atomic_t)(count * SW_PROTO_SIGNAL_BASE + signo);
}

sw_rc sw_proto_signals_install(sw_err_t *err) {
  static const int signals[] = {SIGTERM, SIGUSR1, SIGINT};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = s_on_drain_signal;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaddset(&sa.sa_mask, signals[i]);
  sa.sa_flags = SA_RESTART;
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
    if (sigaction(signals[i], &sa, NULL) != 0)
      return sw_err_set(err, SW_ERR_IO, "cannot install handler for signal %d: %s", signals[i], strerror(errno));
  return SW_OK;
}

int sw_proto_signal_received(void) { return (int)s_drain_signals % SW_PROTO_SIGNAL_BASE; }
int sw_proto_signal_count(void) { return (int)s_drain_signals / SW_PROTO_SIGNAL_BASE; }

sw_rc sw_proto_mpi_error(sw_err_t *err, int mpi_rc, const char *call, const char *file, int line) {
  char text[MPI_MAX_ERROR_STRING];
  int n = 0;
  if (MPI_Error_string(mpi_rc, text, &n) != MPI_SUCCESS) snprintf(text, sizeof text, "MPI error code %d", mpi_rc);
  return sw_err_set(err, SW_ERR_MPI, "%s failed at %s:%d: %s", call, file, line, text);
}

/* --- encoding --- */

static void s_put_i32(sw_buf_t *b, int32_t v) { sw_buf_put_u32(b, (uint32_t)v); }
static void s_put_header(sw_buf_t *b, sw_proto_kind kind) {
  sw_buf_put_u32(b, SW_PROTO_MAGIC);
  sw_buf_put_u16(b, SW_PROTO_VERSION);
  sw_buf_put_u16(b, (uint16_t)kind);
}

void sw_proto_encode_hello(sw_buf_t *dst, const sw_proto_hello_t *m) {
  s_put_header(dst, SW_PROTO_HELLO);
  s_put_i32(dst, m->rank);
  sw_buf_put_str(dst, m->host);
  sw_buf_put_str(dst, m->info_json);
}

void sw_proto_encode_trial(sw_buf_t *dst, const sw_proto_trial_t *m) {
  s_put_header(dst, SW_PROTO_TRIAL);
  sw_buf_put_u64(dst, m->slot);
  sw_buf_put_u32(dst, m->attempt);
  sw_buf_put_f64(dst, m->timeout_s);
  sw_buf_put_str(dst, m->config_json);
}

void sw_proto_encode_result(sw_buf_t *dst, const sw_proto_result_t *m) {
  s_put_header(dst, SW_PROTO_RESULT);
  sw_buf_put_u64(dst, m->slot);
  sw_buf_put_u32(dst, m->attempt);
  sw_buf_put_str(dst, m->host);
  sw_outcome_encode(dst, &m->outcome);
}

void sw_proto_encode_stop(sw_buf_t *dst, int32_t exit_code) {
  s_put_header(dst, SW_PROTO_STOP);
  s_put_i32(dst, exit_code);
}

void sw_proto_encode_empty(sw_buf_t *dst, sw_proto_kind kind) { s_put_header(dst, kind); }

/* --- decoding --- */

static sw_rc s_get_i32(sw_cursor_t *c, int32_t *out) {
  uint32_t u;
  sw_rc rc = sw_cursor_u32(c, &u);
  if (rc == SW_OK) memcpy(out, &u, sizeof u);
  return rc;
}

/* Reads a string field into a fresh NUL-terminated copy (NULL for the "absent" marker). */
static sw_rc s_get_str(sw_cursor_t *c, char **out, const char *field, sw_err_t *err) {
  return sw_cursor_str(c, SW_PROTO_MAX_STRING, field, out, err);
}

#define S_TRY(x)                  \
  do {                            \
    sw_rc s_rc_ = (x);            \
    if (s_rc_ != SW_OK) return s_rc_; \
  } while (0)
#define S_FIELD(x, name) \
  S_TRY((x) == SW_OK ? SW_OK : sw_err_set(err, SW_ERR_TRUNCATED, "message ends before '%s'", name))

static sw_rc s_decode_hello(sw_cursor_t *c, sw_proto_hello_t *m, sw_err_t *err) {
  S_FIELD(s_get_i32(c, &m->rank), "rank");
  S_TRY(s_get_str(c, &m->host, "host", err));
  return s_get_str(c, &m->info_json, "info_json", err);
}

static sw_rc s_decode_trial(sw_cursor_t *c, sw_proto_trial_t *m, sw_err_t *err) {
  S_FIELD(sw_cursor_u64(c, &m->slot), "slot");
  S_FIELD(sw_cursor_u32(c, &m->attempt), "attempt");
  S_FIELD(sw_cursor_f64(c, &m->timeout_s), "timeout_s");
  S_TRY(s_get_str(c, &m->config_json, "config_json", err));
  if (!m->config_json) return sw_err_set(err, SW_ERR_PARSE, "trial message without a config");
  return SW_OK;
}

static sw_rc s_decode_result(sw_cursor_t *c, sw_proto_result_t *m, sw_err_t *err) {
  S_FIELD(sw_cursor_u64(c, &m->slot), "slot");
  S_FIELD(sw_cursor_u32(c, &m->attempt), "attempt");
  S_TRY(s_get_str(c, &m->host, "host", err));
  return sw_outcome_decode(c, SW_PROTO_MAX_STRING, &m->outcome, err);
}

sw_rc sw_proto_decode(const void *bytes, size_t len, sw_proto_msg_t *out, sw_err_t *err) {
  sw_cursor_t c;
  uint32_t magic;
  uint16_t version, kind;
  memset(out, 0, sizeof *out);
  sw_cursor_init(&c, bytes, len);
  if (sw_cursor_u32(&c, &magic) != SW_OK || sw_cursor_u16(&c, &version) != SW_OK ||
      sw_cursor_u16(&c, &kind) != SW_OK)
    return sw_err_set(err, SW_ERR_TRUNCATED, "message of %zu bytes is shorter than its 8-byte header", len);
  if (magic != SW_PROTO_MAGIC) return sw_err_set(err, SW_ERR_PARSE, "bad message magic 0x%08x", magic);
  if (version != SW_PROTO_VERSION)
    return sw_err_set(err, SW_ERR_UNSUPPORTED, "message protocol version %u, this build speaks %d "
                      "(mixed sparsweep binaries in one job?)", version, SW_PROTO_VERSION);
  out->kind = (sw_proto_kind)kind;
  sw_rc rc;
  switch (kind) {
    case SW_PROTO_HELLO: rc = s_decode_hello(&c, &out->u.hello, err); break;
    case SW_PROTO_TRIAL: rc = s_decode_trial(&c, &out->u.trial, err); break;
    case SW_PROTO_RESULT: rc = s_decode_result(&c, &out->u.result, err); break;
    case SW_PROTO_INTERRUPT:
    case SW_PROTO_ALIVE: rc = SW_OK; break;
    case SW_PROTO_STOP:
      rc = s_get_i32(&c, &out->u.stop_exit_code) == SW_OK
               ? SW_OK
               : sw_err_set(err, SW_ERR_TRUNCATED, "message ends before 'exit_code'");
      break;
    default: return sw_err_set(err, SW_ERR_PARSE, "unknown message kind %u", kind);
  }
  if (rc == SW_OK && sw_cursor_remain(&c) != 0)
    rc = sw_err_set(err, SW_ERR_PARSE, "%zu unexpected trailing bytes in message kind %u", sw_cursor_remain(&c),
                    kind);
  return rc;
}

void sw_proto_result_free(sw_proto_result_t *r) {
  if (!r) return;
  sw_outcome_free(&r->outcome);
  free(r->host);
  memset(r, 0, sizeof *r);
}

void sw_proto_msg_free(sw_proto_msg_t *m) {
  if (!m) return;
  switch (m->kind) {
    case SW_PROTO_HELLO:
      free(m->u.hello.host);
      free(m->u.hello.info_json);
      break;
    case SW_PROTO_TRIAL: free(m->u.trial.config_json); break;
    case SW_PROTO_RESULT: sw_proto_result_free(&m->u.result); break;
    default: break;
  }
  memset(m, 0, sizeof *m);
}

/* --- back-off --- */

void sw_proto_backoff_init(sw_proto_backoff_t *bo, int64_t min_ns, int64_t max_ns) {
  bo->min_ns = min_ns > 0 ? min_ns : 1000;
  bo->max_ns = max_ns >= bo->min_ns ? max_ns : bo->min_ns;
  bo->cur_ns = bo->min_ns;
}

void sw_proto_backoff_reset(sw_proto_backoff_t *bo) { bo->cur_ns = bo->min_ns; }

void sw_proto_backoff_sleep(sw_proto_backoff_t *bo) {
  struct timespec ts = {(time_t)(bo->cur_ns / 1000000000LL), (long)(bo->cur_ns % 1000000000LL)};
  nanosleep(&ts, NULL); /* EINTR (a drain signal) just ends the sleep early: the caller re-polls */
  int64_t next = bo->cur_ns + bo->cur_ns / 2;
  bo->cur_ns = next > bo->max_ns ? bo->max_ns : next;
}

/* --- MPI --- */

sw_rc sw_proto_init(sw_err_t *err) {
  SW_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  return SW_OK;
}

sw_rc sw_proto_try_recv(int source, sw_proto_msg_t *msg, int *got, sw_err_t *err) {
  int flag = 0, count = 0;
  MPI_Status st;
  *got = 0;
  SW_MPI_CHECK(MPI_Iprobe(source, SW_PROTO_TAG, MPI_COMM_WORLD, &flag, &st));
  if (!flag) return SW_OK;
  SW_MPI_CHECK(MPI_Get_count(&st, MPI_BYTE, &count));
  uint8_t *bytes = malloc(count > 0 ? (size_t)count : 1);
  if (!bytes) return sw_err_set(err, SW_ERR_NOMEM, "cannot allocate %d bytes for a message", count);
  int mpi_rc = MPI_Recv(bytes, count, MPI_BYTE, st.MPI_SOURCE, SW_PROTO_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  if (mpi_rc != MPI_SUCCESS) {
    free(bytes);
    return sw_proto_mpi_error(err, mpi_rc, "MPI_Recv", __FILE__, __LINE__);
  }
  sw_rc rc = sw_proto_decode(bytes, (size_t)count, msg, err);
  free(bytes);
  if (rc != SW_OK) {
    sw_proto_msg_free(msg);
    return sw_err_prefix(err, "message from rank %d", st.MPI_SOURCE);
  }
  msg->source = st.MPI_SOURCE;
  *got = 1;
  return SW_OK;
}

sw_rc sw_proto_send(const sw_buf_t *msg, int dest, sw_err_t *err) {
  if (!sw_buf_ok(msg)) return sw_err_set(err, SW_ERR_NOMEM, "out of memory while encoding a message for rank %d", dest);
  if (msg->len > (size_t)INT32_MAX)
    return sw_err_set(err, SW_ERR_RANGE, "message of %zu bytes for rank %d is too large", msg->len, dest);
  SW_MPI_CHECK(MPI_Send(msg->data, (int)msg->len, MPI_BYTE, dest, SW_PROTO_TAG, MPI_COMM_WORLD));
  return SW_OK;
}
