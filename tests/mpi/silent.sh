#!/usr/bin/env bash
# Robustness scenario: a worker rank freezes (SIGSTOP) with no drain in progress.  Before ALIVE messages
# (proto/sw_proto.h) rank 0 waited for it forever.  With --rank-silence 3, rank 0 gives up on it after 3 s
# of silence (rank event 'unresponsive'), requeues its trial on the other worker, finishes the grid and ends
# the job with MPI_Abort (exit != 0): every trial ok, none lost, none twice.
. "$(dirname "$0")/lib.sh"
db="$WORK/silent.db"
mpirun -np 3 "$SPARSWEEP" run "$TESTS/sleep_trials.yaml" --db "$db" --events none --batch 1 --rank-silence 3 \
  > "$WORK/run.out" 2>&1 &
mp=$!
wait_rows "$db" 4
r1=$(rank_pid "$mp" 1) || fail "rank 1 not found"
kill -STOP "$r1"
t0=$(date +%s.%N)
rc=0; wait "$mp" || rc=$?
t1=$(date +%s.%N)
kill -CONT "$r1" 2>/dev/null || true
wait_gone "$db"
secs=$(echo "$t1 - $t0" | bc)
echo "sweep with a frozen rank ended after $secs s (exit $rc)"
cat "$WORK/run.out" | grep -i "silent" | head -3 || true
# 40 trials of 0.3 s on one rank: ~12 s, plus the 3 s of silence and start-up slack
[ "$(echo "$secs < 45" | bc)" = 1 ] || fail "the sweep took $secs s after the freeze"
[ "$rc" -ne 0 ] || fail "a job ended by MPI_Abort must not exit 0"
check "rank event" "$(sql "$db" "select count(*) from rank_events where rank=1 and kind='unresponsive'")" 1
check "ok configs" "$(sql "$db" "select count(distinct config_hash) from trials where status='ok'")" 40
check "rows" "$(sql "$db" "select count(*) from trials")" 40
check "run status" "$(sql "$db" "select status from runs")" done
check "integrity" "$(sql "$db" "pragma integrity_check")" ok
echo "PASS"
