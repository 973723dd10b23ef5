#!/usr/bin/env bash
# Robustness scenario: a drain while a worker rank is frozen (SIGSTOP).  SIGTERM to rank 0 with
# --drain-grace 1: rank 0 commits what it has, records the frozen rank's trial 'interrupted' (rank event
# 'unresponsive') and ends the job with MPI_Abort within grace + 5 s margin (+ start-up slack here), exit 1.
. "$(dirname "$0")/lib.sh"
db="$WORK/frozen.db"
mpirun -np 3 "$SPARSWEEP" run "$TESTS/sleep_trials.yaml" --db "$db" --events none --batch 1 --drain-grace 1 \
  > "$WORK/run.out" 2>&1 &
mp=$!
wait_rows "$db" 4
r1=$(rank_pid "$mp" 1) || fail "rank 1 not found"
r0=$(rank0_pid "$mp") || fail "rank 0 not found"
kill -STOP "$r1"
t0=$(date +%s.%N)
kill -TERM "$r0"
rc=0; wait "$mp" || rc=$?
t1=$(date +%s.%N)
kill -CONT "$r1" 2>/dev/null || true
wait_gone "$db"
secs=$(echo "$t1 - $t0" | bc)
echo "drain with a frozen rank ended after $secs s"
[ "$(echo "$secs < 12" | bc)" = 1 ] || fail "the drain took $secs s (limit: grace 1 s + margin 5 s + 6 s slack)"
[ "$rc" -ne 0 ] || fail "a job ended by MPI_Abort must not exit 0"
check "run status" "$(sql "$db" "select status from runs")" drained
check "trial of the frozen rank" "$(sql "$db" "select count(*) from trials where rank=1 and status='interrupted' and message like '%did not answer%'")" 1
check "rank event" "$(sql "$db" "select count(*) from rank_events where rank=1 and kind='unresponsive'")" 1
check "failed rows" "$(sql "$db" "select count(*) from trials where status in ('failed','timeout')")" 0
check "integrity" "$(sql "$db" "pragma integrity_check")" ok
# a rerun completes the grid, the interrupted trial included
mpirun -np 3 "$SPARSWEEP" run "$TESTS/sleep_trials.yaml" --db "$db" --events none > "$WORK/rerun.out" 2>&1 || fail "rerun failed"
check "ok configs" "$(sql "$db" "select count(distinct config_hash) from trials where status='ok'")" 40
echo "PASS"
