#!/usr/bin/env bash
# Draining while every worker's executor is in a workload's prepare step (which does not read the worker's
# socket): the workers stop their executors about a second after the interrupt and report the trials
# 'interrupted', so rank 0 ends the drain normally (exit 0, run 'drained', no rank 'unresponsive').  Before,
# rank 0 took the healthy ranks for frozen after its 5 s margin and ended the job with MPI_Abort (exit 1).
. "$(dirname "$0")/lib.sh"
db="$WORK/prep.db"
mpirun -np 3 "$SPARSWEEP" run "$TESTS/prepare_trials.yaml" --db "$db" --events none --drain-grace 0 \
  > "$WORK/run.out" 2>&1 &
mp=$!
wait_sql "$db" "select count(*) from runs" 1
sleep 2
r0=$(rank0_pid "$mp") || fail "rank 0 not found"
t0=$(date +%s.%N)
kill -TERM "$r0"
rc=0; wait "$mp" || rc=$?
t1=$(date +%s.%N)
wait_gone "$db"
secs=$(echo "$t1 - $t0" | bc)
echo "drain during prepare ended after $secs s (exit $rc)"
check "exit" "$rc" 0
[ "$(echo "$secs < 5" | bc)" = 1 ] || fail "the drain took $secs s (the prepare steps run 20 s)"
check "run status" "$(sql "$db" "select status from runs")" drained
check "interrupted" "$(sql "$db" "select count(*) from trials where status='interrupted' and message like '%prepare step%'")" 2
check "unresponsive ranks" "$(sql "$db" "select count(*) from rank_events where kind='unresponsive'")" 0
echo "PASS"
