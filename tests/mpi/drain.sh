#!/usr/bin/env bash
# Draining: SIGTERM to rank 0 stops dispatching, running trials finish, exit 0, run 'drained', and the
# --snapshot copy holds exactly what the database holds; SIGUSR1
# to mpirun (forwarded to every rank and executor) with a short grace interrupts the running trials
# (recorded 'interrupted', not 'failed'); a drain file works the same; a rerun then completes the grid.
. "$(dirname "$0")/lib.sh"
db="$WORK/drain.db"
exp="$TESTS/sleep_trials.yaml"   # 40 trials of 300 ms
# 1. SIGTERM to rank 0
mpirun -np 3 "$SPARSWEEP" run "$exp" --db "$db" --events none --batch 1 --snapshot "$WORK/snap.db" \
  > "$WORK/run1.out" 2>&1 &
mp=$!
wait_rows "$db" 4
r0=$(rank0_pid "$mp") || fail "rank 0 not found"
kill -TERM "$r0"
rc=0; wait "$mp" || rc=$?
check "exit after SIGTERM drain" "$rc" 0
check "run status" "$(sql "$db" "select status from runs where run_id=1")" drained
check "failed rows" "$(sql "$db" "select count(*) from trials where status!='ok'")" 0
n1=$(sql "$db" "select count(*) from trials")
[ "$n1" -lt 40 ] || fail "the drain did not stop dispatching ($n1 rows)"
grep -q "drain requested by signal SIGTERM" "$WORK/run1.out" || fail "no drain message"
check "snapshot rows" "$(sql "$WORK/snap.db" "select count(*) from trials")" "$n1"
check "snapshot run status" "$(sql "$WORK/snap.db" "select status from runs")" drained
check "snapshot integrity" "$(sql "$WORK/snap.db" "pragma integrity_check")" ok
# 2. SIGUSR1 to mpirun with a 0.5 s grace on 20 s trials: interrupted, not failed
mpirun -np 3 "$SPARSWEEP" run "$TESTS/long_trials.yaml" --db "$db" --events none --drain-grace 0.5 \
  > "$WORK/run2.out" 2>&1 &
mp=$!
wait_sql "$db" "select count(*) from runs" 2   # run 2 has begun: its first two trials are dispatched
sleep 1
kill -USR1 "$mp"
rc=0; wait "$mp" || rc=$?
check "exit after SIGUSR1 drain" "$rc" 0
check "interrupted rows" "$(sql "$db" "select count(*) from trials where run_id=2 and status='interrupted'")" 2
check "no failed rows" "$(sql "$db" "select count(*) from trials where status in ('failed','timeout')")" 0
# 3. drain file
mpirun -np 3 "$SPARSWEEP" run "$exp" --db "$db" --events none --batch 1 --drain-file "$WORK/drain.now" \
  > "$WORK/run3.out" 2>&1 &
mp=$!
wait_rows "$db" $((n1 + 2 + 4))
touch "$WORK/drain.now"
rc=0; wait "$mp" || rc=$?
check "exit after drain file" "$rc" 0
check "run 3 status" "$(sql "$db" "select status from runs where run_id=3")" drained
# 4. rerun completes the grid without duplicates
mpirun -np 3 "$SPARSWEEP" run "$exp" --db "$db" --events none > "$WORK/run4.out" 2>&1 || fail "rerun failed"
check "ok rows" "$(sql "$db" "select count(*) from trials where status='ok' and config like '%\"sleep_ms\":300%'")" 40
check "duplicates" "$(sql "$db" "select count(*) from (select config_hash from trials where status='ok' group by config_hash having count(*)>1)")" 0
check "integrity" "$(sql "$db" "pragma integrity_check")" ok
echo "PASS"
