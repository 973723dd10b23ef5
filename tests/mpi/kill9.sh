#!/usr/bin/env bash
# kill -9 of mpirun in the middle of a sweep, then a rerun: the grid is complete with no trial lost and
# none duplicated, the database passes PRAGMA integrity_check, and the killed run is marked 'aborted'.
. "$(dirname "$0")/lib.sh"
db="$WORK/kill9.db"
exp="$TESTS/sleep_trials.yaml"   # 40 trials of 300 ms
mpirun -np 3 "$SPARSWEEP" run "$exp" --db "$db" --events none --batch 4 > "$WORK/run1.out" 2>&1 &
mp=$!
wait_rows "$db" 8
kill -9 "$mp"
wait "$mp" 2>/dev/null || true
wait_gone "$db"
first=$(sql "$db" "select count(*) from trials")
[ "$first" -ge 8 ] && [ "$first" -lt 40 ] || fail "expected a partial sweep before the rerun, got $first rows"
echo "ok: $first rows committed before kill -9"
check "integrity after kill" "$(sql "$db" "pragma integrity_check")" ok
mpirun -np 3 "$SPARSWEEP" run "$exp" --db "$db" --events none > "$WORK/run2.out" 2>&1 \
  || { cat "$WORK/run2.out"; fail "rerun failed"; }
grep -q "$first skipped" "$WORK/run2.out" || { cat "$WORK/run2.out"; fail "rerun did not skip the $first recorded trials"; }
check "ok rows" "$(sql "$db" "select count(*) from trials where status='ok'")" 40
check "distinct ok hashes" "$(sql "$db" "select count(distinct config_hash) from trials where status='ok'")" 40
check "duplicates" "$(sql "$db" "select count(*) from (select config_hash from trials group by config_hash having count(*)>1)")" 0
check "integrity" "$(sql "$db" "pragma integrity_check")" ok
check "runs" "$(sql "$db" "select count(*) from runs")" 2
# the killed run's rank 0 is gone: the rerun marked it aborted (its own run is done)
check "killed run aborted" "$(sql "$db" "select status from runs order by run_id limit 1")" aborted
check "rerun done" "$(sql "$db" "select status from runs order by run_id desc limit 1")" done
echo "PASS"
