#!/usr/bin/env bash
# mpirun -np 3 sweep of the crash test experiment (52 trials: 48 ok, segv, abort, exit 3, hang):
# exactly the expected rows with their causes, work spread over both workers, live events seen by
# `sparsweep watch`, then resume (nothing rerun), --rerun-failed (only the 4 failures) and --force.
. "$(dirname "$0")/lib.sh"
db="$WORK/crash.db"
ep="tcp://127.0.0.1:$(event_port)"
"$SPARSWEEP" watch "$ep" --plain --timeout 60 > "$WORK/watch.out" 2>&1 &
watch_pid=$!
sleep 0.5
mpirun -np 3 "$SPARSWEEP" run "$EXAMPLES/test_crash.yaml" --db "$db" --events "$ep" > "$WORK/run.out" 2>&1 \
  || { cat "$WORK/run.out"; fail "run exited with $?"; }
check "trial rows" "$(sql "$db" "select count(*) from trials")" 52
check "ok rows" "$(sql "$db" "select count(*) from trials where status='ok'")" 48
check "distinct hashes" "$(sql "$db" "select count(distinct config_hash) from trials")" 52
check "segv cause" "$(sql "$db" "select status||' '||signal from trials where config like '%\"segv\"%'")" "failed 11"
check "abort cause" "$(sql "$db" "select status||' '||signal from trials where config like '%\"abort\"%'")" "failed 6"
check "exit cause" "$(sql "$db" "select status||' '||exit_status from trials where config like '%\"exit\"%'")" "failed 3"
check "hang status" "$(sql "$db" "select status from trials where config like '%\"hang\"%'")" "timeout"
check "failure messages" "$(sql "$db" "select count(*) from trials where status!='ok' and length(message)>0")" 4
check "ranks used" "$(sql "$db" "select group_concat(rank) from (select distinct rank from trials order by rank)")" "1,2"
check "run status" "$(sql "$db" "select status from runs")" "done"
check "run ranks" "$(sql "$db" "select n_ranks from runs")" 3
check "metrics of ok trials" "$(sql "$db" "select count(distinct trial_id) from metrics")" 48
grep -q "rank 0 CPU" "$WORK/run.out" || fail "no rank 0 CPU figure in the summary"
grep -q "52 trials: 48 ok, 3 failed, 1 timeout, 0 interrupted" "$WORK/run.out" || fail "summary does not count the timeout apart"
wait "$watch_pid" || fail "watch exited non-zero"
grep -q "finished: done" "$WORK/watch.out" || { cat "$WORK/watch.out"; fail "watch did not see run_finished"; }
grep -q "52/52 done (48 ok, 4 failed" "$WORK/watch.out" || fail "watch did not end with 52/52 done"
grep -Eq "^(ok|failed|timeout) +#[0-9]+ " "$WORK/watch.out" || fail "watch showed no trial result line"
# a watcher that joins in the middle catches up from the counters every event carries
db2="$WORK/late.db"
mpirun -np 3 "$SPARSWEEP" run "$TESTS/sleep_trials.yaml" --db "$db2" --events "$ep" > "$WORK/late_run.out" 2>&1 &
mp=$!
wait_rows "$db2" 1
"$SPARSWEEP" watch "$ep" --plain --timeout 60 > "$WORK/late_watch.out" 2>&1 || fail "late watch failed"
wait "$mp" || fail "sleep sweep failed"
grep -q "40/40 done (40 ok" "$WORK/late_watch.out" || { cat "$WORK/late_watch.out"; fail "late watcher did not catch up"; }
# resume: everything recorded, nothing runs
mpirun -np 3 "$SPARSWEEP" run "$EXAMPLES/test_crash.yaml" --db "$db" --events none > "$WORK/run2.out" 2>&1
check "rows after resume" "$(sql "$db" "select count(*) from trials")" 52
grep -q "52 skipped" "$WORK/run2.out" || fail "resume did not skip 52 trials"
! grep -q "of one core" "$WORK/run2.out" || fail "a CPU share printed for a run of almost no wall time"
# --rerun-failed: only the 4 failures run again, as attempt 2
mpirun -np 3 "$SPARSWEEP" run "$EXAMPLES/test_crash.yaml" --db "$db" --events none --rerun-failed > "$WORK/run3.out" 2>&1
check "rows after rerun-failed" "$(sql "$db" "select count(*) from trials")" 56
check "second attempts" "$(sql "$db" "select count(*) from trials where attempt=2 and status!='ok'")" 4
# --force: all 52 again
mpirun -np 3 "$SPARSWEEP" run "$EXAMPLES/test_crash.yaml" --db "$db" --events none --force > "$WORK/run4.out" 2>&1
check "rows after force" "$(sql "$db" "select count(*) from trials")" 108
check "integrity" "$(sql "$db" "pragma integrity_check")" ok
echo "PASS"
