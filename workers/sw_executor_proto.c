/* sw_executor_proto: frames over the worker <-> executor socket, the RESULT payload (the trial outcome's one
 * codec, common/sw_outcome.h), and option defaults. */
#include "workers/sw_executor_proto.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/sw_cursor.h"

void sw_exec_opts_defaults(const sw_executor_opts_t *in, sw_executor_opts_t *out) {
  memset(out, 0, sizeof *out);
  if (in) *out = *in;
  if (!(out->grace_s > 0)) out->grace_s = 2.0;
  if (!(out->start_timeout_s > 0)) out->start_timeout_s = 60.0;
  if (!(out->watchdog_slack_s > 0)) out->watchdog_slack_s = 30.0;
  if (out->mem_limit_bytes == 0) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    out->mem_limit_bytes = (pages > 0 && page > 0) ? (uint64_t)((double)pages * (double)page * 0.8) : UINT64_MAX;
  }
}

/* ---- frames ---- */

static sw_rc write_all(int fd, const char *p, size_t n, sw_err_t *err) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == ENOTSOCK) w = write(fd, p, n);
    if (w < 0) return sw_err_set(err, SW_ERR_IO, "executor socket: send failed: %s", strerror(errno));
    p += w;
    n -= (size_t)w;
  }
  return SW_OK;
}

/* Reads exactly n bytes; *got tells how many arrived before EOF. */
static sw_rc read_all(int fd, char *p, size_t n, size_t *got, sw_err_t *err) {
  *got = 0;
  while (*got < n) {
    ssize_t r = read(fd, p + *got, n - *got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return sw_err_set(err, SW_ERR_IO, "executor socket: read failed: %s", strerror(errno));
    if (r == 0) return SW_OK;
    *got += (size_t)r;
  }
  return SW_OK;
}

sw_rc sw_exec_send(int fd, uint32_t type, const void *payload, size_t len, sw_err_t *err) {
  if (len >= SW_EXEC_FRAME_MAX) return sw_err_set(err, SW_ERR_RANGE, "executor frame of %zu bytes is too large", len);
  sw_buf_t b = SW_BUF_INIT;
  sw_buf_put_u32(&b, type);
  sw_buf_put_u32(&b, (uint32_t)len);
  if (len) sw_buf_append(&b, payload, len);
  sw_rc rc = sw_buf_ok(&b) ? write_all(fd, b.data, b.len, err)
                           : sw_err_set(err, SW_ERR_NOMEM, "executor frame: out of memory");
  sw_buf_free(&b);
  return rc;
}

sw_rc sw_exec_recv(int fd, uint32_t *type, sw_buf_t *payload, int *eof, sw_err_t *err) {
  unsigned char hdr[8];
  size_t got = 0;
  *eof = 0;
  sw_rc rc = read_all(fd, (char *)hdr, sizeof hdr, &got, err);
  if (rc) return rc;
  if (got == 0) {
    *eof = 1;
    return SW_OK;
  }
  if (got < sizeof hdr) return sw_err_set(err, SW_ERR_TRUNCATED, "executor socket: frame header cut short");
  sw_cursor_t c;
  uint32_t    len = 0;
  sw_cursor_init(&c, hdr, sizeof hdr);
  (void)(sw_cursor_u32(&c, type) || sw_cursor_u32(&c, &len)); /* 8 bytes are there: cannot fail */
  if (len >= SW_EXEC_FRAME_MAX) return sw_err_set(err, SW_ERR_RANGE, "executor socket: frame of %u bytes", len);
  sw_buf_reset(payload);
  char *tmp = len ? malloc(len) : NULL;
  if (len && !tmp) return sw_err_set(err, SW_ERR_NOMEM, "executor socket: cannot allocate a %u-byte frame", len);
  rc = len ? read_all(fd, tmp, len, &got, err) : SW_OK;
  if (!rc && len && got < len) rc = sw_err_set(err, SW_ERR_TRUNCATED, "executor socket: frame cut short");
  if (!rc) {
    sw_buf_append(payload, tmp, len);
    sw_buf_puts(payload, ""); /* makes data non-NULL even for empty frames */
    if (!sw_buf_ok(payload)) rc = sw_err_set(err, SW_ERR_NOMEM, "executor socket: out of memory");
  }
  free(tmp);
  return rc;
}

/* ---- results ---- */

void sw_exec_encode_result(const sw_outcome_t *res, sw_buf_t *b) { sw_outcome_encode(b, res); }

sw_rc sw_exec_decode_result(const void *payload, size_t len, sw_outcome_t *res, sw_err_t *err) {
  sw_cursor_t c;
  sw_cursor_init(&c, payload, len);
  sw_rc rc = sw_outcome_decode(&c, SW_EXEC_FRAME_MAX, res, err);
  if (rc == SW_OK && sw_cursor_remain(&c) != 0) {
    rc = sw_err_set(err, SW_ERR_PARSE, "%zu trailing bytes", sw_cursor_remain(&c));
    sw_outcome_free(res);
  }
  if (rc) sw_err_prefix(err, "executor result");
  return rc;
}
