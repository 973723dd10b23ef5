-- sparsweep results database, schema version 3 (PRAGMA user_version = 3, application_id = 0x53575350).
-- Embedded into sw_results at build time and executed on an empty database by sw_store_open(); older
-- versions are upgraded by the explicit migration steps in results/sw_store.c.  Documented, column by
-- column, in results/SCHEMA.md: keep the two in step.  Times are seconds since the Unix epoch (REAL).

-- One row per `sparsweep run` invocation (and per run imported by `sparsweep merge`).
CREATE TABLE runs (
  run_id              INTEGER PRIMARY KEY,
  uuid                TEXT    NOT NULL UNIQUE,
  started_s           REAL    NOT NULL,
  ended_s             REAL,
  status              TEXT    NOT NULL DEFAULT 'running',
  spec_name           TEXT,
  spec_text           TEXT,
  spec_hash           TEXT,
  sw_version          TEXT,
  git_commit          TEXT,
  git_dirty           INTEGER,
  hosts               TEXT CHECK (hosts IS NULL OR json_valid(hosts)),
  n_ranks             INTEGER,
  cpu_model           TEXT,
  cores               INTEGER,
  mem_bytes           INTEGER,
  compiler            TEXT,
  cflags              TEXT,
  openblas_version    TEXT,
  openblas_core       TEXT,
  mpi_version         TEXT,
  papi_version        TEXT,
  papi_presets        TEXT CHECK (papi_presets IS NULL OR json_valid(papi_presets)),
  env                 TEXT CHECK (env IS NULL OR json_valid(env)),
  machine_fingerprint TEXT,
  command_line        TEXT,
  imported_from       TEXT,
  imported_s          REAL,
  cpu_id              TEXT,
  kernel_cflags       TEXT
);

-- One row per execution of one trial (a retry is a new row with attempt + 1).
CREATE TABLE trials (
  trial_id     INTEGER PRIMARY KEY,
  run_id       INTEGER NOT NULL REFERENCES runs(run_id),
  config_hash  TEXT    NOT NULL,
  config       TEXT    NOT NULL CHECK (json_valid(config)),
  status       TEXT    NOT NULL
               CHECK (status IN ('ok', 'failed', 'timeout', 'interrupted', 'skipped')),
  attempt      INTEGER NOT NULL DEFAULT 1,
  rank         INTEGER,
  host         TEXT,
  started_s    REAL,
  ended_s      REAL,
  duration_s   REAL,
  signal       INTEGER,
  signal_name  TEXT,
  exit_status  INTEGER,
  stderr_tail  TEXT,
  message      TEXT
);
CREATE INDEX trials_by_hash_status ON trials(config_hash, status);
CREATE INDEX trials_by_status ON trials(status);
CREATE INDEX trials_by_run ON trials(run_id, config_hash, attempt);

-- Named scalar results of a trial (speedup, flops, rel_l2_error, latency percentiles, ...).
CREATE TABLE metrics (
  trial_id INTEGER NOT NULL REFERENCES trials(trial_id) ON DELETE CASCADE,
  name     TEXT    NOT NULL CHECK (typeof(name) = 'text'),
  value    REAL CHECK (typeof(value) IN ('real', 'null')),
  unit     TEXT,
  PRIMARY KEY (trial_id, name)
) WITHOUT ROWID;

-- Every timed repetition, in seconds, per series ("dense", "sparse", ...).
CREATE TABLE samples (
  trial_id INTEGER NOT NULL REFERENCES trials(trial_id) ON DELETE CASCADE,
  series   TEXT    NOT NULL CHECK (typeof(series) = 'text'),
  rep      INTEGER NOT NULL CHECK (typeof(rep) = 'integer' AND rep >= 0),
  value    REAL    NOT NULL CHECK (typeof(value) = 'real'),
  PRIMARY KEY (trial_id, series, rep)
) WITHOUT ROWID;

-- Hardware (PAPI presets) and software-defined (PAPI SDE) counters per series; value NULL + reason when
-- the counter could not be read on this machine.
CREATE TABLE counters (
  trial_id INTEGER NOT NULL REFERENCES trials(trial_id) ON DELETE CASCADE,
  series   TEXT    NOT NULL CHECK (typeof(series) = 'text'),
  name     TEXT    NOT NULL CHECK (typeof(name) = 'text'),
  value    REAL CHECK (typeof(value) IN ('real', 'null')),
  reason   TEXT,
  PRIMARY KEY (trial_id, series, name),
  CHECK (value IS NOT NULL OR reason IS NOT NULL)
) WITHOUT ROWID;

-- Convenience for readers: the most recent ok trial of every config hash (what reports compare).
CREATE VIEW latest_ok AS
  SELECT t.* FROM trials t
  WHERE t.status = 'ok'
    AND t.trial_id = (SELECT max(t2.trial_id) FROM trials t2
                      WHERE t2.config_hash = t.config_hash AND t2.status = 'ok');

-- Version 2: the one live writer of this database (at most one row).  `sparsweep run` takes it in the same
-- write transaction that checks it, refreshes heartbeat_s while it runs and deletes it at the end.
CREATE TABLE run_lock (
  lock_id       INTEGER PRIMARY KEY CHECK (lock_id = 1),
  run_id        INTEGER,
  host          TEXT    NOT NULL,
  pid           INTEGER NOT NULL,
  pid_start     TEXT,
  acquired_s    REAL    NOT NULL,
  heartbeat_s   REAL    NOT NULL,
  stale_after_s REAL    NOT NULL
);

-- Version 2: infrastructure failures of worker ranks and their quarantine (not attempts of a trial).
CREATE TABLE rank_events (
  event_id INTEGER PRIMARY KEY,
  run_id   INTEGER NOT NULL REFERENCES runs(run_id),
  rank     INTEGER NOT NULL,
  host     TEXT,
  at_s     REAL    NOT NULL,
  kind     TEXT    NOT NULL CHECK (kind IN ('infra_failure', 'quarantined', 'unresponsive')),
  message  TEXT
);
CREATE INDEX rank_events_by_run ON rank_events(run_id);
