#!/bin/sh
# `sparsweep merge` end to end: two job databases built with the sqlite3 shell from results/schema.sql
# (an independent writer), overlapping on config h2, merged twice: expected rows, no duplicates, exit codes.
set -eu
: "${SPARSWEEP:?set by ctest}" "${SW_SOURCE_DIR:?set by ctest}"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { sqlite3 "$1" "$2"; }

# The schema version schema.sql describes (its first line names it).
schema_version=$(sed -n '1s/.*PRAGMA user_version = \([0-9]*\).*/\1/p' "$SW_SOURCE_DIR/results/schema.sql")
[ -n "$schema_version" ] || fail "results/schema.sql does not name its user_version on line 1"
# mk DB UUID HASH...: one run, one ok trial with one metric per hash.
mk() {
  db=$1 uuid=$2
  shift 2
  sqlite3 "$db" < "$SW_SOURCE_DIR/results/schema.sql"
  q "$db" "PRAGMA user_version = $schema_version; PRAGMA application_id = 1398231888;
           INSERT INTO runs(uuid, started_s, spec_name) VALUES('$uuid', 1000, 'job-$uuid');"
  for h in "$@"; do
    q "$db" "INSERT INTO trials(run_id, config_hash, config, status) VALUES(1, '$h', '{\"h\":\"$h\"}', 'ok');
             INSERT INTO metrics VALUES(last_insert_rowid(), 'speedup', 2.0, 'ratio');"
  done
}
mk "$d/a.db" ua h1 h2
mk "$d/b.db" ub h2 h3

"$SPARSWEEP" merge "$d/out.db" "$d/a.db" "$d/b.db" > "$d/log" || fail "merge exited $?"
grep -q "1 duplicate trials skipped" "$d/log" || fail "expected one skipped duplicate: $(cat "$d/log")"
[ "$(q "$d/out.db" 'SELECT count(*) FROM runs')" = 2 ] || fail "runs"
[ "$(q "$d/out.db" 'SELECT count(*) FROM trials')" = 3 ] || fail "trials"
[ "$(q "$d/out.db" 'SELECT count(*) FROM metrics')" = 3 ] || fail "metrics"
[ "$(q "$d/out.db" "SELECT group_concat(config_hash) FROM (SELECT config_hash FROM trials ORDER BY 1)")" = "h1,h2,h3" ] \
  || fail "hashes"
[ "$(q "$d/out.db" "SELECT imported_from FROM runs WHERE uuid = 'ub'")" = "$d/b.db" ] || fail "provenance"

"$SPARSWEEP" merge "$d/out.db" "$d/b.db" "$d/a.db" > /dev/null || fail "second merge"
[ "$(q "$d/out.db" 'SELECT count(*) FROM trials')" = 3 ] || fail "merge is not idempotent"
[ "$(q "$d/out.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity"

set +e
"$SPARSWEEP" merge "$d/out.db" 2> /dev/null
[ $? -eq 2 ] || fail "usage error must exit 2"
"$SPARSWEEP" merge "$d/out.db" "$d/missing.db" 2> "$d/err"
[ $? -eq 1 ] || fail "missing input must exit 1"
grep -q "$d/missing.db" "$d/err" || fail "error must name the input: $(cat "$d/err")"
"$SPARSWEEP" merge "$d/no/such/dir/out.db" "$d/a.db" 2> "$d/err"
[ $? -eq 1 ] || fail "unwritable output must exit 1"
grep -q "$d/no/such/dir/out.db" "$d/err" || fail "error must name the output: $(cat "$d/err")"
echo "merge_cli: ok"
