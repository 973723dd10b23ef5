/* Unit tests for orchestrator/: the MPI message codec (round trips, every truncation, hostile headers),
 * polling back-off, the drain-signal flag, the zmq event publisher (a real SUB socket receives the
 * versioned two-frame events), and the rank-0 scheduler driven through a scripted local backend (no MPI):
 * retries, resume/--rerun-failed/--force, the circuit breaker, draining with interruption, and refusing
 * an unwritable database before any trial runs.  Database rows are counted with plain SQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "common/sw_buf.h"
#include "common/sw_hash.h"
#include "common/sw_json.h"
#include "orchestrator/sw_events.h"
#include "orchestrator/sw_orch.h"
#include "proto/sw_proto.h"
#include "orchestrator/sw_stale.h"
#include "results/sw_store_int.h" /* sw_store_handle: the test writes a trial row directly */

/* ------------------------------------------------------------------ codec */

static sw_proto_result_t sample_result(void) {
  sw_proto_result_t r;
  memset(&r, 0, sizeof r);
  r.slot = 0x1122334455ULL;
  r.attempt = 3;
  r.outcome.status = SW_TRIAL_TIMEOUT;
  r.outcome.signo = 15;
  r.outcome.exit_status = -1;
  r.outcome.out_of_memory = 1;
  r.outcome.start_wall = 1700000000.25;
  r.outcome.end_wall = 1700000002.5;
  snprintf(r.outcome.cause, sizeof r.outcome.cause, "timeout after 2 s");
  r.outcome.stderr_tail = (char *)"";
  r.outcome.result_json = NULL;
  r.host = (char *)"node-7";
  return r;
}

static void test_proto_result_round_trip(void **state) {
  (void)state;
  sw_proto_result_t in = sample_result();
  sw_buf_t b = SW_BUF_INIT;
  sw_proto_encode_result(&b, &in);
  assert_true(sw_buf_ok(&b));
  sw_proto_msg_t m;
  sw_err_t err;
  assert_int_equal(sw_proto_decode(b.data, b.len, &m, &err), SW_OK);
  assert_int_equal(m.kind, SW_PROTO_RESULT);
  const sw_proto_result_t *r = &m.u.result;
  assert_true(r->slot == in.slot);
  assert_int_equal(r->attempt, 3);
  assert_int_equal(r->outcome.status, SW_TRIAL_TIMEOUT);
  assert_int_equal(r->outcome.signo, 15);
  assert_int_equal(r->outcome.exit_status, -1);
  assert_int_equal(r->outcome.out_of_memory, 1);
  assert_memory_equal(&r->outcome.start_wall, &in.outcome.start_wall, sizeof(double));
  assert_memory_equal(&r->outcome.end_wall, &in.outcome.end_wall, sizeof(double));
  assert_string_equal(r->outcome.cause, "timeout after 2 s");
  assert_string_equal(r->outcome.signal_name, "SIGTERM"); /* derived from signo by the one decoder */
  assert_string_equal(r->outcome.stderr_tail, ""); /* empty and absent stay distinct */
  assert_null(r->outcome.result_json);
  assert_string_equal(r->host, "node-7");
  sw_proto_msg_free(&m);
  sw_buf_free(&b);
}

static void test_proto_other_kinds_round_trip(void **state) {
  (void)state;
  sw_buf_t b = SW_BUF_INIT;
  sw_proto_msg_t m;
  sw_err_t err;
  sw_proto_trial_t t = {42, 1, 2.5, "{\"action\":\"ok\"}"};
  sw_proto_encode_trial(&b, &t);
  assert_int_equal(sw_proto_decode(b.data, b.len, &m, &err), SW_OK);
  assert_int_equal(m.kind, SW_PROTO_TRIAL);
  assert_true(m.u.trial.slot == 42);
  assert_true(m.u.trial.timeout_s == t.timeout_s);
  assert_string_equal(m.u.trial.config_json, t.config_json);
  sw_proto_msg_free(&m);
  sw_buf_reset(&b);
  sw_proto_hello_t h = {5, "host-a", "{\"papi_presets\":[]}"};
  sw_proto_encode_hello(&b, &h);
  assert_int_equal(sw_proto_decode(b.data, b.len, &m, &err), SW_OK);
  assert_int_equal(m.u.hello.rank, 5);
  assert_string_equal(m.u.hello.host, "host-a");
  assert_string_equal(m.u.hello.info_json, h.info_json);
  sw_proto_msg_free(&m);
  sw_buf_reset(&b);
  sw_proto_encode_stop(&b, 2);
  assert_int_equal(sw_proto_decode(b.data, b.len, &m, &err), SW_OK);
  assert_int_equal(m.kind, SW_PROTO_STOP);
  assert_int_equal(m.u.stop_exit_code, 2);
  sw_buf_reset(&b);
  sw_proto_encode_empty(&b, SW_PROTO_INTERRUPT);
  assert_int_equal(b.len, 8); /* header only */
  assert_int_equal(sw_proto_decode(b.data, b.len, &m, &err), SW_OK);
  assert_int_equal(m.kind, SW_PROTO_INTERRUPT);
  sw_buf_free(&b);
}

/* Every proper prefix of a valid message must be rejected (and never read past its end: ASan). */
static void test_proto_every_truncation_fails(void **state) {
  (void)state;
  sw_proto_result_t in = sample_result();
  in.outcome.result_json = (char *)"{\"v\":1}";
  sw_buf_t b = SW_BUF_INIT;
  sw_proto_encode_result(&b, &in);
  for (size_t n = 0; n < b.len; n++) {
    char *copy = malloc(n ? n : 1); /* exact-size heap copy so ASan sees any overread */
    memcpy(copy, b.data, n);
    sw_proto_msg_t m;
    sw_err_t err;
    sw_err_clear(&err);
    sw_rc rc = sw_proto_decode(copy, n, &m, &err);
    assert_int_not_equal(rc, SW_OK);
    assert_true(strlen(err.msg) > 0);
    sw_proto_msg_free(&m);
    free(copy);
  }
  sw_buf_free(&b);
}

static void test_proto_hostile_headers(void **state) {
  (void)state;
  sw_buf_t b = SW_BUF_INIT;
  sw_proto_msg_t m;
  sw_err_t err;
  sw_proto_encode_stop(&b, 0);
  b.data[0] ^= 0xff; /* magic */
  assert_int_equal(sw_proto_decode(b.data, b.len, &m, &err), SW_ERR_PARSE);
  assert_non_null(strstr(err.msg, "magic"));
  b.data[0] ^= 0xff;
  b.data[4] = 9; /* version */
  assert_int_equal(sw_proto_decode(b.data, b.len, &m, &err), SW_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.msg, "version 9"));
  b.data[4] = SW_PROTO_VERSION;
  b.data[6] = 77; /* kind */
  assert_int_equal(sw_proto_decode(b.data, b.len, &m, &err), SW_ERR_PARSE);
  assert_non_null(strstr(err.msg, "kind 77"));
  b.data[6] = SW_PROTO_STOP;
  sw_buf_append(&b, "x", 1); /* trailing byte */
  assert_int_equal(sw_proto_decode(b.data, b.len, &m, &err), SW_ERR_PARSE);
  assert_non_null(strstr(err.msg, "trailing"));
  /* a result whose status is out of range, and a string longer than the message */
  sw_proto_result_t r = sample_result();
  r.outcome.status = (sw_trial_status)9;
  sw_buf_reset(&b);
  sw_proto_encode_result(&b, &r);
  assert_int_equal(sw_proto_decode(b.data, b.len, &m, &err), SW_ERR_PARSE);
  sw_proto_msg_free(&m);
  sw_buf_reset(&b);
  sw_proto_trial_t t = {1, 1, 1.0, "abc"};
  sw_proto_encode_trial(&b, &t);
  b.data[b.len - 7] = 0x7f; /* the config length field (4 bytes before "abc") now claims 127+ bytes */
  assert_int_equal(sw_proto_decode(b.data, b.len, &m, &err), SW_ERR_TRUNCATED);
  assert_non_null(strstr(err.msg, "config_json"));
  sw_proto_msg_free(&m);
  sw_buf_free(&b);
}

static void test_proto_backoff_grows_to_cap_and_resets(void **state) {
  (void)state;
  sw_proto_backoff_t bo;
  sw_proto_backoff_init(&bo, 1000, 3000);
  const int64_t expected[] = {1000, 1500, 2250, 3000, 3000}; /* x1.5 per idle poll, capped */
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
    assert_true(bo.cur_ns == expected[i]);
    sw_proto_backoff_sleep(&bo);
  }
  sw_proto_backoff_reset(&bo);
  assert_true(bo.cur_ns == 1000);
}

static void test_proto_drain_signal_flag(void **state) {
  (void)state;
  sw_err_t err;
  assert_int_equal(sw_proto_signals_install(&err), SW_OK);
  int before = sw_proto_signal_count();
  assert_int_equal(raise(SIGUSR1), 0); /* would terminate the process without the handler */
  assert_int_equal(sw_proto_signal_received(), SIGUSR1);
  assert_int_equal(raise(SIGTERM), 0);
  assert_int_equal(sw_proto_signal_received(), SIGTERM);
  assert_int_equal(sw_proto_signal_count(), before + 2);
}

/* ------------------------------------------------------------------ events */

static void test_events_subscriber_receives_versioned_frames(void **state) {
  (void)state;
  sw_events_t *ev = NULL;
  sw_err_t err;
  assert_int_equal(sw_events_new(&ev, "tcp://127.0.0.1:*", 0, &err), SW_OK);
  const char *ep = sw_events_endpoint(ev);
  assert_non_null(strstr(ep, "tcp://127.0.0.1:"));
  void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
  int linger = 0;
  zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
  assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "trial_finished", 14), 0);
  assert_int_equal(zmq_connect(sub, ep), 0);
  sw_events_set_run_id(ev, 7);
  sw_events_counts_t c = {10, 2, 3, 1, 0, 2};
  char topic[32] = "";
  char body[1024] = "";
  /* PUB/SUB drops events published before the subscription arrives: publish until one is received */
  for (int i = 0; i < 500 && !topic[0]; i++) {
    sw_events_publish(ev, "progress", &c, NULL); /* filtered out by the subscription */
    sw_events_publish(ev, "trial_finished", &c, "\"hash\":\"abc\"");
    zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 10) > 0) {
      int n = zmq_recv(sub, topic, sizeof topic - 1, 0);
      assert_true(n > 0);
      topic[n] = '\0';
      n = zmq_recv(sub, body, sizeof body - 1, 0);
      assert_true(n > 0);
      body[n] = '\0';
    }
  }
  assert_string_equal(topic, "trial_finished");
  sw_json_t *doc = NULL;
  assert_int_equal(sw_json_parse(body, strlen(body), &doc, &err), SW_OK);
  assert_true(sw_json_get(doc, "v")->number == SW_EVENTS_VERSION);
  assert_string_equal(sw_json_get(doc, "event")->string, "trial_finished");
  assert_true(sw_json_get(doc, "run_id")->number == 7);
  assert_true(sw_json_get(doc, "total")->number == 10);
  assert_true(sw_json_get(doc, "skipped")->number == 2);
  assert_true(sw_json_get(doc, "ok")->number == 3);
  assert_true(sw_json_get(doc, "failed")->number == 1);
  assert_true(sw_json_get(doc, "running")->number == 2);
  assert_string_equal(sw_json_get(doc, "hash")->string, "abc");
  sw_json_free(doc);
  zmq_close(sub);
  zmq_ctx_term(ctx);
  sw_events_destroy(&ev);
  assert_null(ev);
  sw_events_destroy(&ev); /* idempotent */
}

static void test_events_disabled_and_bad_endpoint(void **state) {
  (void)state;
  sw_events_t *ev = NULL;
  sw_err_t err;
  assert_int_equal(sw_events_new(&ev, NULL, 0, &err), SW_OK);
  sw_events_counts_t c = {0};
  assert_int_equal(sw_events_publish(ev, "progress", &c, NULL), SW_OK);
  assert_string_equal(sw_events_endpoint(ev), "");
  sw_events_destroy(&ev);
  assert_int_equal(sw_events_new(&ev, "tcp://no-such-host.invalid:1", 0, &err), SW_ERR_IO);
  assert_null(ev);
  assert_non_null(strstr(err.msg, "tcp://no-such-host.invalid:1"));
}

/* Without any subscriber, and with one that connects but never reads, many events never block (the
 * queue is bounded by the high-water mark; the rest are dropped) and are all accounted for. */
static void test_events_absent_or_stuck_subscriber_never_blocks(void **state) {
  (void)state;
  sw_events_t *ev = NULL;
  sw_err_t err;
  assert_int_equal(sw_events_new(&ev, "tcp://127.0.0.1:*", 10, &err), SW_OK);
  sw_events_counts_t c = {1, 0, 0, 0, 0, 0};
  for (int i = 0; i < 20000; i++) assert_int_equal(sw_events_publish(ev, "progress", &c, NULL), SW_OK);
  assert_true(sw_events_sent(ev) == 20000); /* PUB discards silently: no send ever failed */
  void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
  int linger = 0, rcvhwm = 1;
  zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(sub, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
  zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
  assert_int_equal(zmq_connect(sub, sw_events_endpoint(ev)), 0);
  usleep(100000); /* let the subscription reach the publisher */
  /* a blocking send would hang here (and the ctest timeout would fail the test) */
  for (int i = 0; i < 200000; i++) assert_int_equal(sw_events_publish(ev, "progress", &c, NULL), SW_OK);
  assert_true(sw_events_sent(ev) == 220000);
  zmq_close(sub);
  zmq_ctx_term(ctx);
  sw_events_destroy(&ev);
}

/* ------------------------------------------------------------------ scheduler with a scripted backend */

/* Scripted backend: the trial's "action" decides the outcome: ok; sleep stands for a flaky trial (fails on
 * the first attempt of an invocation, ok later; the file may only use actions the test workload declares,
 * experiments/sw_keys_table.c); segv (always killed by signal 11).  Optionally creates a drain file at the
 * n-th submit, and keeps that trial running until interrupted. */
typedef struct fake {
  int              busy;
  sw_proto_trial_t cur;           /* copy of slot/attempt/timeout (config_json not kept) */
  char             action[16];
  int              interrupt;     /* interrupt requested */
  int              submits;       /* trials submitted */
  int              flaky_seen;    /* flaky attempts seen in this invocation */
  const char      *drain_file;    /* created at submit number drain_at */
  int              drain_at;
  int              hold;          /* the current trial runs until interrupted */
  int              infra_left;    /* the next this many results are infrastructure failures (cannot fork) */
} fake_t;

static sw_rc fake_submit(void *ctx, const sw_proto_trial_t *t, sw_err_t *err) {
  fake_t *f = ctx;
  assert_false(f->busy); /* one trial at a time per slot */
  sw_json_t *doc = NULL;
  assert_int_equal(sw_json_parse(t->config_json, strlen(t->config_json), &doc, err), SW_OK);
  const sw_json_t *action = sw_json_get(doc, "action"); /* other workloads' trials (no action) succeed */
  snprintf(f->action, sizeof f->action, "%s", action ? action->string : "ok");
  sw_json_free(doc);
  f->cur = *t;
  f->cur.config_json = NULL;
  f->busy = 1;
  f->interrupt = 0;
  f->submits++;
  f->hold = 0;
  if (f->drain_file && f->submits == f->drain_at) {
    FILE *df = fopen(f->drain_file, "w");
    assert_non_null(df);
    fclose(df);
    f->hold = 1;
  }
  return SW_OK;
}

static char *dup_str(const char *s) {
  char *d = malloc(strlen(s) + 1);
  strcpy(d, s);
  return d;
}

static sw_rc fake_wait(void *ctx, int wait_ms, sw_proto_result_t *r, int *done, sw_err_t *err) {
  fake_t *f = ctx;
  (void)err;
  *done = 0;
  if (!f->busy) return SW_OK;
  if (f->hold && !f->interrupt) {
    usleep((useconds_t)wait_ms * 100); /* "running" */
    return SW_OK;
  }
  memset(r, 0, sizeof *r);
  r->slot = f->cur.slot;
  r->attempt = f->cur.attempt;
  sw_outcome_t *o = &r->outcome;
  o->exit_status = -1;
  o->start_wall = 1000.0;
  o->end_wall = 1000.5;
  int ok = strcmp(f->action, "ok") == 0 || (strcmp(f->action, "sleep") == 0 && f->flaky_seen++ > 0);
  if (f->infra_left > 0) {
    f->infra_left--;
    o->status = SW_TRIAL_FAILED;
    o->infra = 1;
    sw_outcome_set_cause(o, "infrastructure: executor could not run the trial: fork: Resource temporarily unavailable");
  } else if (f->interrupt) {
    o->status = SW_TRIAL_INTERRUPTED;
    sw_outcome_set_cause(o, "interrupted by drain");
  } else if (ok) {
    o->status = SW_TRIAL_OK;
    o->exit_status = 0;
    o->result_json = dup_str("{\"v\":1,\"metrics\":[{\"name\":\"value\",\"value\":1.5,\"unit\":\"count\"}],"
                             "\"samples\":[{\"series\":\"t\",\"rep\":0,\"value\":0.001}],\"counters\":[]}");
  } else {
    o->status = SW_TRIAL_FAILED;
    sw_outcome_set_signal(o, 11);
    sw_outcome_set_cause(o, "killed by signal 11 (SIGSEGV)");
  }
  o->stderr_tail = dup_str("");
  r->host = dup_str("fakehost");
  f->busy = 0;
  *done = 1;
  return SW_OK;
}

static sw_rc fake_interrupt(void *ctx, sw_err_t *err) {
  (void)err;
  ((fake_t *)ctx)->interrupt = 1;
  return SW_OK;
}

typedef struct fixture {
  char dir[64];
  char exp[128];
  char db[128];
  char drain[128];
} fixture_t;

/* 7 trials in expansion order: ok x5 (replica 0..4), sleep (the flaky one), segv. */
static const char k_exp_yaml[] =
    "name: orch_unit\nworkload: test\nmeasure:\n  warmup: 0\n  repetitions: 1\ntimeout: 5\n"
    "grid:\n  product:\n    action: [ok, sleep, segv]\n  when:\n    - if: {action: ok}\n      product:\n"
    "        replica: {range: [0, 5]}\n";
enum { k_trials = 7, k_ok_trials = 5 };

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof *fx);
  snprintf(fx->dir, sizeof fx->dir, "/tmp/sw-test-orch.XXXXXX");
  if (!mkdtemp(fx->dir)) return -1;
  snprintf(fx->exp, sizeof fx->exp, "%s/exp.yaml", fx->dir);
  snprintf(fx->db, sizeof fx->db, "%s/r.db", fx->dir);
  snprintf(fx->drain, sizeof fx->drain, "%s/drain", fx->dir);
  FILE *f = fopen(fx->exp, "w");
  if (!f) return -1;
  fputs(k_exp_yaml, f);
  fclose(f);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  char p[200];
  const char *files[] = {"exp.yaml", "r.db", "r.db-wal", "r.db-shm", "drain"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", fx->dir, files[i]);
    unlink(p);
  }
  rmdir(fx->dir);
  free(fx);
  return 0;
}

static long long count(const char *db, const char *sql) {
  sqlite3 *h = NULL;
  sqlite3_stmt *st = NULL;
  long long n = -1;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

static sw_rc run_orch(fixture_t *fx, fake_t *fake, sw_orch_opts_t *o, sw_orch_summary_t *sum, sw_err_t *err) {
  sw_orch_local_t local = {fake, fake_submit, fake_wait, fake_interrupt, "fakehost",
                           "{\"openblas_config\":\"OpenBLAS test\",\"openblas_corename\":\"Zen\",\"papi\":"
                           "{\"papi_version\":\"7.0.0.0\",\"presets_available\":[\"PAPI_TOT_CYC\"]}}"};
  o->exp_path = fx->exp;
  if (!o->db_path) o->db_path = fx->db;
  return sw_orch_run(o, 1, &local, sum, err);
}

static void test_orch_retries_then_resume_modes(void **state) {
  fixture_t *fx = *state;
  sw_orch_opts_t o;
  sw_orch_summary_t s;
  sw_err_t err;
  fake_t fake = {0};
  sw_orch_opts_default(&o);
  o.retries = 1;
  o.build.kernel_c_flags = "-O3 -march=unit-test";
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  /* flaky: failed then ok; segv: failed twice; 5 ok trials once */
  assert_int_equal(s.exit_code, 0);
  assert_int_equal(fake.submits, k_trials + 2);
  assert_true(s.ok == k_ok_trials + 1 && s.failed == 1 && s.attempts == k_trials + 2 && s.skipped == 0);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials"), k_trials + 2);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials WHERE status='ok'"), k_ok_trials + 1);
  assert_int_equal(count(fx->db, "SELECT max(attempt) FROM trials WHERE config LIKE '%segv%'"), 2);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials WHERE signal=11 AND message LIKE 'killed%'"), 3); /* flaky once, segv twice */
  assert_int_equal(count(fx->db, "SELECT count(*) FROM metrics"), k_ok_trials + 1);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM runs WHERE status='done' AND n_ranks=1"), 1);
  /* provenance: the worker-side library facts, MPI version, spec and fingerprint reach the run row */
  assert_int_equal(count(fx->db, "SELECT count(*) FROM runs WHERE openblas_core='Zen' AND openblas_version="
                                 "'OpenBLAS test' AND papi_version='7.0.0.0' AND papi_presets='[\"PAPI_TOT_CYC\"]' "
                                 "AND mpi_version LIKE '%MPI%' AND spec_name='orch_unit' AND spec_text LIKE "
                                 "'%sleep%' AND json_array_length(hosts)=1 AND length(machine_fingerprint)=16"),
                   1);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM runs WHERE kernel_cflags='-O3 -march=unit-test' AND "
                                 "(cpu_id LIKE 'x86 vendor=% family=%' OR cpu_id LIKE 'arm implementer=%' OR "
                                 "cpu_id IS NULL)"),
                   1);
  /* resume: all 7 have a final status; nothing runs */
  fake = (fake_t){0};
  sw_orch_opts_default(&o);
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(fake.submits, 0);
  assert_int_equal(s.skipped, k_trials);
  /* --rerun-failed: only segv, numbered after the recorded attempts */
  fake = (fake_t){0};
  sw_orch_opts_default(&o);
  o.resume = SW_ORCH_RESUME_OK;
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(fake.submits, 1);
  assert_int_equal(count(fx->db, "SELECT max(attempt) FROM trials WHERE config LIKE '%segv%'"), 3);
  /* --force: every trial again */
  fake = (fake_t){0};
  sw_orch_opts_default(&o);
  o.resume = SW_ORCH_RESUME_NONE;
  o.retries = 0;
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(fake.submits, k_trials);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials"), k_trials + 2 + 1 + k_trials);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM runs"), 4);
}

/* Rewrites every recorded trial's hash to the plain SHA-256 of its config: the hash a build before method versions
 * (or with every method at version 1) gave it, i.e. a database recorded with the older method definitions. */
static void rehash_as_version_1(const char *db) {
  sqlite3 *h = NULL;
  sqlite3_stmt *sel = NULL, *upd = NULL;
  assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT trial_id, config FROM trials", -1, &sel, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, "UPDATE trials SET config_hash = ?1 WHERE trial_id = ?2", -1, &upd, NULL),
                   SQLITE_OK);
  while (sqlite3_step(sel) == SQLITE_ROW) {
    const char *config = (const char *)sqlite3_column_text(sel, 1);
    char hex[65];
    sw_sha256_hex(config, strlen(config), hex);
    sqlite3_bind_text(upd, 1, hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(upd, 2, sqlite3_column_int64(sel, 0));
    assert_int_equal(sqlite3_step(upd), SQLITE_DONE);
    sqlite3_reset(upd);
  }
  sqlite3_finalize(sel);
  sqlite3_finalize(upd);
  sqlite3_close(h);
}

/* common/sw_methods.h: a method whose definition version is above 1 (dejavu 2) hashes apart from its config, so a
 * database recorded with the older definition reruns it, while a method at version 1 (cats) is resumed. */
static void test_orch_method_version_reruns_changed_method(void **state) {
  fixture_t *fx = *state;
  FILE *f = fopen(fx->exp, "w");
  assert_non_null(f);
  fputs("name: method_version\nworkload: model\nmeasure:\n  warmup: 0\n  repetitions: 1\ntimeout: 5\n"
        "grid:\n  product:\n    method: [cats, dejavu]\n", f);
  fclose(f);
  sw_orch_opts_t o;
  sw_orch_summary_t s;
  sw_err_t err;
  fake_t fake = {0};
  sw_orch_opts_default(&o);
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(fake.submits, 2);
  /* recorded now: both resume */
  fake = (fake_t){0};
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(fake.submits, 0);
  assert_int_equal(s.skipped, 2);
  /* recorded with the older definitions: cats (version 1) resumes, dejavu (version 2) reruns */
  rehash_as_version_1(fx->db);
  fake = (fake_t){0};
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(fake.submits, 1);
  assert_int_equal(s.skipped, 1);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials WHERE config LIKE '%cats%'"), 1);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials WHERE config LIKE '%dejavu%'"), 2);
}

static void write_exp(const fixture_t *fx, const char *text) {
  FILE *f = fopen(fx->exp, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* Removes "weights":"f32" from every recorded config and checks that each hash is the plain SHA-256 of what remains:
 * the rows a build from before the weights default changed wrote for a file without the key (it ran f32). */
static void strip_weights_f32(const char *db) {
  sqlite3 *h = NULL;
  assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
  assert_int_equal(sqlite3_exec(h, "UPDATE trials SET config = replace(config, ',\"weights\":\"f32\"', '')", NULL,
                                NULL, NULL), SQLITE_OK);
  sqlite3_stmt *sel = NULL;
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT config, config_hash FROM trials", -1, &sel, NULL), SQLITE_OK);
  int rows = 0;
  while (sqlite3_step(sel) == SQLITE_ROW) {
    const char *config = (const char *)sqlite3_column_text(sel, 0);
    char hex[65];
    assert_null(strstr(config, "weights"));
    sw_sha256_hex(config, strlen(config), hex);
    assert_string_equal(hex, (const char *)sqlite3_column_text(sel, 1));
    rows++;
  }
  assert_true(rows > 0);
  sqlite3_finalize(sel);
  sqlite3_close(h);
}

/* The model workload's weights default changed from f32 to native (experiments/README.md "Trial identity"): a
 * database recorded before (configs without weights, f32 results) resumes for a file that pins weights: f32, and
 * none of it resumes for a file that does not write the key (native now); written and defaulted native are one. */
static void test_orch_changed_default_resume(void **state) {
  fixture_t *fx = *state;
  static const char head[] = "name: weights\nworkload: model\nmeasure:\n  warmup: 0\n  repetitions: 1\ntimeout: 5\n"
                             "grid:\n  product:\n    method: [cats, topk]\n";
  char text[512];
  sw_orch_opts_t o;
  sw_orch_summary_t s;
  sw_err_t err;
  fake_t fake = {0};
  sw_orch_opts_default(&o);
  snprintf(text, sizeof text, "%ssettings: {weights: f32}\n", head);
  write_exp(fx, text);
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(fake.submits, 2);
  strip_weights_f32(fx->db); /* now an old database of the file without the key */
  write_exp(fx, head);       /* not written: native, new trials */
  fake = (fake_t){0};
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(fake.submits, 2);
  assert_int_equal(s.skipped, 0);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials WHERE config LIKE '%\"weights\":\"native\"%'"), 2);
  snprintf(text, sizeof text, "%ssettings: {weights: f32}\n", head); /* pinned f32: the old rows resume */
  write_exp(fx, text);
  fake = (fake_t){0};
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(fake.submits, 0);
  assert_int_equal(s.skipped, 2);
  snprintf(text, sizeof text, "%ssettings: {weights: native}\n", head); /* written native: the defaulted trials */
  write_exp(fx, text);
  fake = (fake_t){0};
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(fake.submits, 0);
  assert_int_equal(s.skipped, 2);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials"), 4);
}

static void test_orch_snapshot_is_a_complete_copy(void **state) {
  fixture_t *fx = *state;
  sw_orch_opts_t o;
  sw_orch_summary_t s;
  sw_err_t err;
  fake_t fake = {0};
  char snap[200];
  snprintf(snap, sizeof snap, "%s/drain", fx->dir); /* a fixture path teardown removes */
  sw_orch_opts_default(&o);
  o.snapshot_path = snap;
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(s.snapshots, 1);
  assert_int_equal(count(snap, "SELECT count(*) FROM trials"), count(fx->db, "SELECT count(*) FROM trials"));
  assert_int_equal(count(snap, "SELECT count(*) FROM trials"), k_trials);
  assert_int_equal(count(snap, "SELECT count(*) FROM runs WHERE status='done'"), 1);
  assert_int_equal(count(snap, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check='ok'"), 1);
  /* an unwritable snapshot path is a failure of the run (exit 1), after all trials were recorded */
  snprintf(snap, sizeof snap, "%s/no/such/dir/snap.db", fx->dir);
  fake = (fake_t){0};
  sw_orch_opts_default(&o);
  o.snapshot_path = snap;
  o.resume = SW_ORCH_RESUME_NONE;
  assert_int_not_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(s.exit_code, 1);
  assert_non_null(strstr(err.msg, "snapshot"));
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials"), 2 * k_trials);
}

static void test_orch_circuit_breaker(void **state) {
  fixture_t *fx = *state;
  sw_orch_opts_t o;
  sw_orch_summary_t s;
  sw_err_t err;
  fake_t fake = {0};
  sw_orch_opts_default(&o);
  o.retries = 0;
  o.max_failures = 1;
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(s.exit_code, 1);
  assert_true(s.tripped);
  assert_int_equal(fake.submits, k_ok_trials + 1); /* segv never dispatched */
  assert_int_equal(s.not_run, 1);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM runs WHERE status='tripped'"), 1);
}

/* A sweep the fake drains at its drain_at-th submit (the drain file appears and that trial runs until it is
 * interrupted after a 0.05 s grace), with `retries` retries (-1: the experiment's). */
static sw_rc run_drained(fixture_t *fx, fake_t *fake, int drain_at, int retries, sw_orch_summary_t *s,
                         sw_err_t *err) {
  sw_orch_opts_t o;
  *fake = (fake_t){.drain_file = fx->drain, .drain_at = drain_at};
  sw_orch_opts_default(&o);
  o.retries = retries;
  o.drain_file = fx->drain;
  o.drain_grace_s = 0.05;
  return run_orch(fx, fake, &o, s, err);
}

static void test_orch_drain_interrupts_after_grace(void **state) {
  fixture_t *fx = *state;
  sw_orch_opts_t o;
  sw_orch_summary_t s;
  sw_err_t err;
  fake_t fake;
  assert_int_equal(run_drained(fx, &fake, 3, -1, &s, &err), SW_OK);
  assert_int_equal(s.exit_code, 0);
  assert_true(s.drained && s.drain_signal == 0);
  assert_int_equal(fake.submits, 3);
  assert_int_equal(s.ok, 2);
  assert_int_equal(s.interrupted, 1);
  assert_int_equal(s.not_run, k_trials - 2); /* what the rerun below runs: the interrupted one included */
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials WHERE status='interrupted'"), 1);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM runs WHERE status='drained'"), 1);
  /* the rerun completes the grid: the interrupted trial runs again, nothing is duplicated */
  unlink(fx->drain);
  fake = (fake_t){0};
  sw_orch_opts_default(&o);
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(fake.submits, k_trials - 2);
  /* 5 ok trials; flaky failed on its only attempt (the experiment sets no retries) */
  assert_int_equal(count(fx->db, "SELECT count(DISTINCT config_hash) FROM trials WHERE status='ok'"), k_ok_trials);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials WHERE status='ok'"), k_ok_trials);
}

/* A drain that interrupts a retry: the flaky trial failed on attempt 1 and its retry (attempt 2) was
 * interrupted.  Its latest attempt decides: the rerun runs it again (before, its earlier failed row made the
 * resume skip it for good, and the summary counted it as done). */
static void test_orch_resume_runs_an_interrupted_retry(void **state) {
  fixture_t *fx = *state;
  sw_orch_opts_t o;
  sw_orch_summary_t s;
  sw_err_t err;
  fake_t fake;
  /* submits: ok x5, flaky attempt 1 (fails), flaky attempt 2 (held, then interrupted) */
  assert_int_equal(run_drained(fx, &fake, 7, 1, &s, &err), SW_OK);
  assert_true(s.drained);
  assert_int_equal(fake.submits, 7);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials WHERE config LIKE '%sleep%' AND status='failed'"), 1);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials WHERE config LIKE '%sleep%' AND status='interrupted'"
                                 " AND attempt = 2"), 1);
  assert_int_equal(s.not_run, 2); /* flaky (interrupted retry) and segv (never dispatched) */
  unlink(fx->drain);
  fake = (fake_t){0};
  sw_orch_opts_default(&o);
  o.retries = 1;
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(s.skipped, k_ok_trials);
  assert_int_equal(fake.submits, 4); /* flaky: fails, then ok; segv: fails twice */
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials WHERE config LIKE '%sleep%' AND status='ok'"), 1);
  assert_int_equal(count(fx->db, "SELECT max(attempt) FROM trials WHERE config LIKE '%sleep%'"), 4);
  assert_int_equal(s.not_run, 0);
}

static void test_orch_unwritable_db_refused_before_any_trial(void **state) {
  fixture_t *fx = *state;
  sw_orch_opts_t o;
  sw_orch_summary_t s;
  sw_err_t err;
  fake_t fake = {0};
  char bad[200];
  snprintf(bad, sizeof bad, "%s/no/such/dir/r.db", fx->dir);
  sw_orch_opts_default(&o);
  o.db_path = bad;
  assert_int_not_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(s.exit_code, 2);
  assert_int_equal(fake.submits, 0);
  assert_non_null(strstr(err.msg, bad));
  /* a bad experiment path is an input error too */
  sw_orch_opts_default(&o);
  sw_orch_local_t local = {&fake, fake_submit, fake_wait, fake_interrupt, "h", NULL};
  o.exp_path = "/no/such/experiment.yaml";
  o.db_path = fx->db;
  assert_int_not_equal(sw_orch_run(&o, 1, &local, &s, &err), SW_OK);
  assert_int_equal(s.exit_code, 2);
  assert_int_equal(access(fx->db, F_OK), -1); /* nothing written */
}

static void test_orch_dry_run_writes_nothing(void **state) {
  fixture_t *fx = *state;
  sw_orch_opts_t o;
  sw_orch_summary_t s;
  sw_err_t err;
  fake_t fake = {0};
  sw_orch_opts_default(&o);
  o.dry_run = 1;
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(s.exit_code, 0);
  assert_int_equal(fake.submits, 0);
  assert_int_equal(access(fx->db, F_OK), -1);
}

/* ------------------------------------------------------------------ stale 'running' runs */

/* Field 22 (starttime) of /proc/self/stat, read here with sscanf rather than through sw_stale. */
static void own_start_ticks(char *dst, size_t cap) {
  char line[1024];
  FILE *f = fopen("/proc/self/stat", "r");
  assert_non_null(f);
  assert_non_null(fgets(line, sizeof line, f));
  fclose(f);
  const char *p = strrchr(line, ')');
  assert_non_null(p);
  unsigned long long ticks = 0;
  /* after ')': state, then fields 4..21 (18 numbers), then starttime */
  assert_int_equal(sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                          &ticks), 1);
  snprintf(dst, cap, "%llu", ticks);
}

/* The pid of a child that has already exited and been reaped: no process has it (until the kernel reuses it). */
static pid_t dead_pid(void) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(0);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return pid;
}

/* State letter of /proc/<pid>/stat ('?' when unreadable). */
static char proc_state(pid_t pid) {
  char path[64], line[1024], c = '?';
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return c;
  const char *p = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
  fclose(f);
  if (!p || sscanf(p + 1, " %c", &c) != 1) c = '?';
  return c;
}

static void test_stale_owner_gone(void **state) {
  (void)state;
  char start[32];
  own_start_ticks(start, sizeof start);
  assert_int_equal(sw_stale_owner_gone((int64_t)getpid(), start), 0);
  assert_int_equal(sw_stale_owner_gone((int64_t)getpid(), NULL), 0);
  assert_int_equal(sw_stale_owner_gone((int64_t)getpid(), "not-my-start"), 1); /* pid reused by another process */
  assert_int_equal(sw_stale_owner_gone((int64_t)dead_pid(), NULL), 1);
  /* a child that has exited but is not reaped yet (a zombie: kill(pid, 0) still succeeds) */
  pid_t zombie = fork();
  assert_true(zombie >= 0);
  if (zombie == 0) _exit(0);
  for (int i = 0; i < 1000 && proc_state(zombie) != 'Z'; i++) usleep(2000);
  assert_int_equal(proc_state(zombie), 'Z');
  assert_int_equal(sw_stale_owner_gone((int64_t)zombie, NULL), 1);
  int status = 0;
  assert_int_equal(waitpid(zombie, &status, 0), zombie);
  assert_int_equal(sw_stale_owner_gone(0, NULL), 0);  /* unknown: never judged gone */
  assert_int_equal(sw_stale_owner_gone(-7, NULL), 0);
}

static void test_stale_stamp_env(void **state) {
  (void)state;
  char start[32], pid[32];
  own_start_ticks(start, sizeof start);
  snprintf(pid, sizeof pid, "%lld", (long long)getpid());
  const char *inputs[] = {"{}", "{\"OMP_NUM_THREADS\":\"1\"}"};
  for (size_t i = 0; i < 2; i++) {
    sw_buf_t b = SW_BUF_INIT;
    sw_buf_puts(&b, inputs[i]);
    sw_stale_stamp_env(&b, "node-7");
    sw_json_t *doc = NULL;
    sw_err_t err;
    assert_int_equal(sw_json_parse(b.data, b.len, &doc, &err), SW_OK);
    assert_string_equal(sw_json_get(doc, "sparsweep.rank0_host")->string, "node-7");
    assert_string_equal(sw_json_get(doc, "sparsweep.rank0_pid")->string, pid);
    assert_string_equal(sw_json_get(doc, "sparsweep.rank0_start")->string, start);
    if (i == 1) assert_string_equal(sw_json_get(doc, "OMP_NUM_THREADS")->string, "1");
    assert_int_equal(doc->count, 3 + i);
    sw_json_free(doc);
    sw_buf_free(&b);
  }
  sw_buf_t bad = SW_BUF_INIT;
  sw_buf_puts(&bad, "[1]");
  sw_stale_stamp_env(&bad, "node-7");
  assert_string_equal(bad.data, "[1]");
  sw_buf_free(&bad);
}

/* Inserts a run with the given env through the store; returns its id. */
static int64_t add_run(sw_store_t *st, const char *env_json, double started_s) {
  sw_provenance_t p;
  memset(&p, 0, sizeof p);
  p.env_json = env_json;
  p.started_s = started_s;
  int64_t id = 0;
  sw_err_t err;
  assert_int_equal(sw_store_run_begin(st, &p, &id, &err), SW_OK);
  return id;
}

static char *run_status(const char *db, int64_t run_id, double *ended_s) {
  sqlite3 *h = NULL;
  sqlite3_stmt *q = NULL;
  char *out = NULL;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, "SELECT status, ended_s FROM runs WHERE run_id = ?1", -1, &q, NULL),
                   SQLITE_OK);
  sqlite3_bind_int64(q, 1, run_id);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  out = dup_str((const char *)sqlite3_column_text(q, 0));
  if (ended_s) *ended_s = sqlite3_column_type(q, 1) == SQLITE_NULL ? -1.0 : sqlite3_column_double(q, 1);
  sqlite3_finalize(q);
  sqlite3_close(h);
  return out;
}

static void assert_run_status(const char *db, int64_t run_id, const char *want) {
  char *got = run_status(db, run_id, NULL);
  assert_string_equal(got, want);
  free(got);
}

static void test_stale_runs_marked_aborted(void **state) {
  fixture_t *fx = *state;
  sw_store_t *st = NULL;
  sw_err_t err;
  char start[32], env_dead[256], env_alive[256], env_other[256], env_reused[256];
  own_start_ticks(start, sizeof start);
  long long dead = (long long)dead_pid(), self = (long long)getpid();
  const char *fmt =
      "{\"sparsweep.rank0_host\":\"%s\",\"sparsweep.rank0_pid\":\"%lld\",\"sparsweep.rank0_start\":\"%s\"}";
  snprintf(env_dead, sizeof env_dead, fmt, "hostA", dead, "1");
  snprintf(env_alive, sizeof env_alive, fmt, "hostA", self, start);
  snprintf(env_other, sizeof env_other, fmt, "hostB", dead, "1");
  snprintf(env_reused, sizeof env_reused, fmt, "hostA", self, "not-my-start");
  assert_int_equal(sw_store_open(&st, fx->db, NULL, &err), SW_OK);
  int64_t r_dead = add_run(st, env_dead, 1000.0), r_alive = add_run(st, env_alive, 1001.0);
  int64_t r_other = add_run(st, env_other, 1002.0), r_plain = add_run(st, "{\"OMP_NUM_THREADS\":\"1\"}", 1003.0);
  int64_t r_done = add_run(st, env_dead, 1004.0), r_reused = add_run(st, env_reused, 1005.0);
  assert_int_equal(sw_store_run_end(st, r_done, "done", 1010.0, &err), SW_OK);
  /* a trial of r_reused that ended at 1007.5: the aborted run's end is its last activity */
  char sql[256];
  snprintf(sql, sizeof sql,
           "INSERT INTO trials(run_id, config_hash, config, status, started_s, ended_s) "
           "VALUES(%lld, 'h', '{}', 'ok', 1006.0, 1007.5)", (long long)r_reused);
  assert_int_equal(sqlite3_exec(sw_store_handle(st), sql, NULL, NULL, NULL), SQLITE_OK);
  int64_t n = -1;
  assert_int_equal(sw_stale_abort_runs(st, "hostA", &n, &err), SW_OK);
  assert_int_equal(n, 2);
  assert_int_equal(sw_stale_abort_runs(st, "hostA", &n, &err), SW_OK); /* nothing left to do */
  assert_int_equal(n, 0);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  double ended = 0.0;
  char *s_dead = run_status(fx->db, r_dead, &ended);
  assert_string_equal(s_dead, "aborted");
  free(s_dead);
  assert_true(ended == 1000.0); /* no trial: ended at its start */
  char *s_reused = run_status(fx->db, r_reused, &ended);
  assert_string_equal(s_reused, "aborted");
  free(s_reused);
  assert_true(ended == 1007.5);
  assert_run_status(fx->db, r_alive, "running");
  assert_run_status(fx->db, r_other, "running");
  assert_run_status(fx->db, r_plain, "running");
  assert_run_status(fx->db, r_done, "done");
}

/* A sweep on a database holding a run of this host left 'running' by a dead rank 0 marks it 'aborted'. */
static void test_orch_marks_killed_run_aborted(void **state) {
  fixture_t *fx = *state;
  sw_host_info_t host;
  sw_host_info_read(&host);
  char env[512];
  snprintf(env, sizeof env, "{\"sparsweep.rank0_host\":\"%s\",\"sparsweep.rank0_pid\":\"%lld\"}", host.hostname,
           (long long)dead_pid());
  sw_store_t *st = NULL;
  sw_err_t err;
  assert_int_equal(sw_store_open(&st, fx->db, NULL, &err), SW_OK);
  int64_t killed = add_run(st, env, 1000.0);
  assert_int_equal(sw_store_close(&st, &err), SW_OK);
  sw_orch_opts_t o;
  sw_orch_summary_t s;
  fake_t fake = {0};
  sw_orch_opts_default(&o);
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_run_status(fx->db, killed, "aborted");
  assert_run_status(fx->db, s.run_id, "done");
  assert_int_equal(count(fx->db, "SELECT count(*) FROM runs WHERE status = 'running'"), 0);
  /* the new run carries its own owner stamp for the next one */
  assert_int_equal(count(fx->db, "SELECT count(*) FROM runs WHERE json_extract(env, '$.\"sparsweep.rank0_pid\"') "
                                 "IS NOT NULL"), 2);
}

/* Infrastructure failures are not attempts of the trial: the trial is requeued (same attempt number), the
 * slot's streak counts them, and at --quarantine-after in a row the slot gets no more trials. */
static void test_orch_infra_failures_requeue_then_quarantine(void **state) {
  fixture_t *fx = *state;
  sw_orch_opts_t o;
  sw_orch_summary_t s;
  sw_err_t err;
  fake_t fake = {.infra_left = 2};
  sw_orch_opts_default(&o);
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(s.exit_code, 0);
  assert_int_equal(fake.submits, k_trials + 2); /* the first trial was handed out three times */
  assert_int_equal(s.requeued, 2);
  assert_int_equal(s.quarantined, 0);
  assert_int_equal(s.ok, k_ok_trials);
  assert_int_equal(s.failed, 2); /* flaky and segv: their own failures */
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials"), k_trials); /* no row for the infra failures */
  assert_int_equal(count(fx->db, "SELECT max(attempt) FROM trials"), 1);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM rank_events WHERE kind='infra_failure'"), 2);
  /* a slot that never recovers: quarantined after 3, nothing recorded, exit 1, everything left for a rerun */
  fake = (fake_t){.infra_left = 1000};
  sw_orch_opts_default(&o);
  o.resume = SW_ORCH_RESUME_NONE;
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK);
  assert_int_equal(s.exit_code, 1);
  assert_int_equal(fake.submits, 3);
  assert_int_equal(s.quarantined, 1);
  assert_true(s.all_quarantined);
  assert_int_equal(s.not_run, k_trials);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM trials WHERE run_id = 2"), 0);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM runs WHERE run_id = 2 AND status='quarantined'"), 1);
  assert_int_equal(count(fx->db, "SELECT count(*) FROM rank_events WHERE run_id = 2 AND kind='quarantined'"), 1);
}

/* One writer per database: a lock row naming a live process of this host, or another host's row with a fresh
 * heartbeat, refuses the run (exit 2, the message names it); a gone process or a stale heartbeat is taken over. */
static void test_orch_refuses_database_in_use(void **state) {
  fixture_t *fx = *state;
  sw_orch_opts_t o;
  sw_orch_summary_t s;
  sw_err_t err;
  fake_t fake = {0};
  sw_orch_opts_default(&o);
  assert_int_equal(run_orch(fx, &fake, &o, &s, &err), SW_OK); /* creates the database */
  assert_int_equal(count(fx->db, "SELECT count(*) FROM run_lock"), 0); /* released at the end */
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, NULL, 0); /* a pid whose process is certainly gone */
  /* holder rows: a live process of this host, one that is gone, another host with a fresh heartbeat, and
   * another host whose heartbeat is older than its 60 s stale-after time */
  struct {
    const char *host;
    long long   pid;
    int         heartbeat_age_s;
    int         refused;
  } holders[] = {{host, (long long)getppid(), 0, 1}, {host, (long long)gone, 0, 0},
                 {"other-node.invalid", 12345, 0, 1}, {"other-node.invalid", 12345, 120, 0}};
  for (size_t i = 0; i < sizeof holders / sizeof holders[0]; i++) {
    sqlite3 *h = NULL;
    char sql[512];
    assert_int_equal(sqlite3_open(fx->db, &h), SQLITE_OK);
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO run_lock VALUES(1, 1, '%s', %lld, NULL, 0, "
             "strftime('%%s','now') - %d, 60)", holders[i].host, holders[i].pid, holders[i].heartbeat_age_s);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    fake = (fake_t){0};
    sw_orch_opts_default(&o);
    o.resume = SW_ORCH_RESUME_NONE;
    long long runs_before = count(fx->db, "SELECT count(*) FROM runs");
    sw_rc rc = run_orch(fx, &fake, &o, &s, &err);
    if (holders[i].refused) {
      assert_int_not_equal(rc, SW_OK);
      assert_int_equal(s.exit_code, 2);
      assert_non_null(strstr(err.msg, "is in use by run 1"));
      assert_non_null(strstr(err.msg, holders[i].host));
      assert_int_equal(fake.submits, 0);
      assert_int_equal(count(fx->db, "SELECT count(*) FROM runs"), runs_before);
    } else {
      assert_int_equal(rc, SW_OK);
      assert_int_equal(fake.submits, k_trials);
      assert_int_equal(count(fx->db, "SELECT count(*) FROM run_lock"), 0);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_proto_result_round_trip),
      cmocka_unit_test(test_proto_other_kinds_round_trip),
      cmocka_unit_test(test_proto_every_truncation_fails),
      cmocka_unit_test(test_proto_hostile_headers),
      cmocka_unit_test(test_proto_backoff_grows_to_cap_and_resets),
      cmocka_unit_test(test_events_subscriber_receives_versioned_frames),
      cmocka_unit_test(test_events_disabled_and_bad_endpoint),
      cmocka_unit_test(test_events_absent_or_stuck_subscriber_never_blocks),
      cmocka_unit_test_setup_teardown(test_orch_retries_then_resume_modes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orch_snapshot_is_a_complete_copy, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orch_method_version_reruns_changed_method, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orch_changed_default_resume, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orch_circuit_breaker, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orch_infra_failures_requeue_then_quarantine, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orch_refuses_database_in_use, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orch_drain_interrupts_after_grace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orch_resume_runs_an_interrupted_retry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orch_unwritable_db_refused_before_any_trial, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orch_dry_run_writes_nothing, setup, teardown),
      cmocka_unit_test(test_stale_owner_gone),
      cmocka_unit_test(test_stale_stamp_env),
      cmocka_unit_test_setup_teardown(test_stale_runs_marked_aborted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orch_marks_killed_run_aborted, setup, teardown),
      cmocka_unit_test(test_proto_drain_signal_flag),
      /* after the signals above: a sweep drains only on signals that arrive while it runs */
      cmocka_unit_test_setup_teardown(test_orch_circuit_breaker, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orch_infra_failures_requeue_then_quarantine, setup, teardown),
      cmocka_unit_test_setup_teardown(test_orch_refuses_database_in_use, setup, teardown),
  };
  return cmocka_run_group_tests_name("orchestrator", tests, NULL, NULL);
}
