#!/usr/bin/env bash
# Robustness scenario: a black-hole worker.  Rank 2's executor cannot fork (SW_FAULT_FORK=1, as under a
# process limit), so it fails each trial in microseconds and is always the first idle rank.  Its failures are
# infrastructure failures: each trial goes back to the queue and runs on rank 1, rank 2 is quarantined after 3
# in a row (recorded in rank_events), and every one of the 40 trials ends ok, none recorded failed.
. "$(dirname "$0")/lib.sh"
db="$WORK/blackhole.db"
exp="$TESTS/quick_trials.yaml"
rc=0
mpirun -np 2 "$SPARSWEEP" run "$exp" --db "$db" --events none : \
  -np 1 -x SW_FAULT_FORK=1 "$SPARSWEEP" run "$exp" --db "$db" --events none > "$WORK/run.out" 2>&1 || rc=$?
check "exit" "$rc" 0
check "ok rows" "$(sql "$db" "select count(*) from trials where status='ok'")" 40
check "rows not ok" "$(sql "$db" "select count(*) from trials where status!='ok'")" 0
check "ranks that recorded trials" "$(sql "$db" "select group_concat(distinct rank) from trials")" 1
check "infrastructure failures of rank 2" "$(sql "$db" "select count(*) from rank_events where rank=2 and kind='infra_failure'")" 3
check "quarantine of rank 2" "$(sql "$db" "select count(*) from rank_events where rank=2 and kind='quarantined'")" 1
check "run status" "$(sql "$db" "select status from runs")" done
grep -q "rank 2 (.*) quarantined after 3 infrastructure failures" "$WORK/run.out" || fail "no quarantine message"
grep -q "1 rank(s) quarantined" "$WORK/run.out" || { cat "$WORK/run.out"; fail "the summary does not show the quarantine"; }
# rank 1's executor binary is missing (deleted or rebuilt during the sweep): the same, rank 1 quarantined
db3="$WORK/noexec.db"
rc=0
mpirun -np 1 "$SPARSWEEP" run "$exp" --db "$db3" --events none : \
  -np 1 -x SW_FAULT_EXECUTOR_PATH="$WORK/no-such-binary" "$SPARSWEEP" run "$exp" --db "$db3" --events none : \
  -np 1 "$SPARSWEEP" run "$exp" --db "$db3" --events none > "$WORK/noexec.out" 2>&1 || rc=$?
check "exit with a missing executor on rank 1" "$rc" 0
check "ok rows with a missing executor" "$(sql "$db3" "select count(*) from trials where status='ok'")" 40
check "ranks that recorded trials (missing executor)" "$(sql "$db3" "select group_concat(distinct rank) from trials")" 2
check "quarantine of rank 1" "$(sql "$db3" "select count(*) from rank_events where rank=1 and kind='quarantined'")" 1
grep -q "no-such-binary" "$WORK/noexec.out" || fail "the cause does not name the missing executor"
# every rank broken: nothing is recorded as failed, the run stops (exit 1) and a rerun runs all 40
db2="$WORK/allbad.db"
rc=0
mpirun -np 3 -x SW_FAULT_FORK=1 "$SPARSWEEP" run "$exp" --db "$db2" --events none > "$WORK/run2.out" 2>&1 || rc=$?
check "exit with every rank quarantined" "$rc" 1
check "rows when every rank is broken" "$(sql "$db2" "select count(*) from trials")" 0
check "run status with every rank quarantined" "$(sql "$db2" "select status from runs")" quarantined
grep -q "40 not run" "$WORK/run2.out" || { cat "$WORK/run2.out"; fail "summary should say 40 not run"; }
mpirun -np 3 "$SPARSWEEP" run "$exp" --db "$db2" --events none > "$WORK/run3.out" 2>&1 || fail "rerun failed"
check "ok rows after rerun" "$(sql "$db2" "select count(*) from trials where status='ok'")" 40
echo "PASS"
