/* sw_store_int: the store's private context and helpers shared by results/sw_store*.c.  Not for other
 * modules: they use results/sw_store.h.  One connection per store; prepared statements belong to it. */
#ifndef SW_STORE_INT_H
#define SW_STORE_INT_H
#include <sqlite3.h>

#include "results/sw_store.h"

#define SW_STORE_MAGIC 0x53544f52u /* "STOR" */
#define SW_STORE_DEAD 0xdeadbeefu

struct sw_store {
  unsigned        magic;      /* SW_STORE_MAGIC while open, SW_STORE_DEAD after close */
  sqlite3        *db;         /* the only connection */
  char           *path;       /* as given to sw_store_open (owned) */
  sw_store_opts_t opts;       /* effective options */
  sw_fs_check_t   fs;         /* file system of the database directory */
  char           *fs_warning; /* owned; NULL on local disks */
  int             in_txn;     /* 1 while a batch transaction is open */
  size_t          pending;    /* trials recorded in the open batch */
  size_t          lost;       /* trials recorded in batches SQLite rolled back after a failed statement */
  int64_t         batch_t0;   /* sw_now_ns() when the open batch began */
  sqlite3_stmt   *ins_trial;    /* INSERT INTO trials */
  sqlite3_stmt   *ins_metrics;  /* INSERT INTO metrics SELECT .. json_each */
  sqlite3_stmt   *ins_samples;  /* INSERT INTO samples SELECT .. json_each */
  sqlite3_stmt   *ins_counters; /* INSERT INTO counters SELECT .. json_each */
  sqlite3_stmt   *chk_result;   /* version/shape of a result JSON */
};

#ifdef NDEBUG
#define SW_STORE_CHECK(st) ((void)(st))
#else
#include <assert.h>
#define SW_STORE_CHECK(st) assert((st) != NULL && (st)->magic == SW_STORE_MAGIC)
#endif

/* The underlying connection (borrowed; do not close).  For results/ and its tests only. */
struct sqlite3 *sw_store_handle(sw_store_t *st);
/* Sets err to SW_ERR_DB: "<what> '<path>': <sqlite3_errmsg>".  Returns SW_ERR_DB. */
sw_rc sw_store_db_err(sw_store_t *st, sw_err_t *err, const char *what);
/* Executes SQL without results; SW_ERR_DB naming what + path on failure. */
sw_rc sw_store_exec(sw_store_t *st, const char *sql, const char *what, sw_err_t *err);
/* Opens the batch write transaction (BEGIN IMMEDIATE) unless one is open. */
sw_rc sw_store_batch_begin(sw_store_t *st, sw_err_t *err);
/* After any failed statement inside the batch: when SQLite has rolled the whole transaction back (SQLITE_FULL,
 * IOERR, NOMEM, INTERRUPT), the batch's trials are gone; adds them to st->lost, says how many in err and forgets
 * the batch, so that the next write opens a new one. */
void sw_store_note_lost_batch(sw_store_t *st, sw_err_t *err);
/* Prepares the insert statements used by sw_store_add_trial. */
sw_rc sw_store_prepare_inserts(sw_store_t *st, sw_err_t *err);
/* Finalizes them (NULL-safe). */
void sw_store_finalize_inserts(sw_store_t *st);
/* Percent-encodes path into an SQLite URI "file:...[?query]" (query may be NULL); caller frees. NULL on OOM. */
char *sw_store_uri(const char *path, const char *query);
/* Reads PRAGMA <schema>.user_version and application_id; SW_ERR_DB on failure. */
sw_rc sw_store_read_version(sw_store_t *st, const char *schema, int *version, int *app_id, sw_err_t *err);

#endif
