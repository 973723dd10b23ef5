#!/usr/bin/env bash
# Robustness scenario: a busy database.  Another process (the sqlite3 shell) holds the write lock for 12 s
# in the middle of a sweep: rank 0 keeps the finished results in memory, retries with back-off, records them
# all when the lock is released, and the summary shows the time it waited; exit 0, run 'done', 40 ok rows.
. "$(dirname "$0")/lib.sh"
db="$WORK/busy.db"
mpirun -np 3 "$SPARSWEEP" run "$TESTS/sleep_trials.yaml" --db "$db" --events none --batch 1 \
  --summary-json "$WORK/sum.json" > "$WORK/run.out" 2>&1 &
mp=$!
wait_rows "$db" 4
( printf '.timeout 20000\nBEGIN IMMEDIATE;\n.shell touch %s/locked\n' "$WORK"; sleep 12; printf 'ROLLBACK;\n' ) \
  | sqlite3 "$db" > "$WORK/holder.out" 2>&1 &
holder=$!
for i in $(seq 1 100); do [ -e "$WORK/locked" ] && break; sleep 0.1; done
[ -e "$WORK/locked" ] || fail "the sqlite3 shell never took the write lock"
rows_locked=$(sql "$db" "select count(*) from trials")
rc=0; wait "$mp" || rc=$?
wait "$holder" || true
check "exit" "$rc" 0
[ "$rows_locked" -lt 30 ] || fail "the lock came too late to matter ($rows_locked rows already)"
check "run status" "$(sql "$db" "select status from runs")" done
check "ok rows" "$(sql "$db" "select count(*) from trials where status='ok'")" 40
check "distinct configs" "$(sql "$db" "select count(distinct config_hash) from trials")" 40
grep -q "is locked by another process; finished results are held in memory" "$WORK/run.out" || fail "no hold message"
waited=$(sed -n 's/.*"db_wait_s":\([0-9.e+-]*\).*/\1/p' "$WORK/sum.json")
echo "waited $waited s for the locked database"
[ "$(echo "$waited >= 5" | bc -l)" = 1 ] || fail "summary says it waited only $waited s"
grep -q "s waiting for a locked database" "$WORK/run.out" || fail "the printed summary does not show the wait"
check "integrity" "$(sql "$db" "pragma integrity_check")" ok
echo "PASS"
