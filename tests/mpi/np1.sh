#!/usr/bin/env bash
# One rank (no launcher and mpirun -np 1): rank 0 runs every trial itself through its executor, with
# the same crash isolation and the same rows as the MPI sweep.
. "$(dirname "$0")/lib.sh"
db="$WORK/np1.db"
"$SPARSWEEP" run "$EXAMPLES/test_crash.yaml" --db "$db" --events none > "$WORK/run.out" 2>&1 || fail "run failed"
check "rows" "$(sql "$db" "select count(*) from trials")" 52
check "ok" "$(sql "$db" "select count(*) from trials where status='ok'")" 48
check "rank" "$(sql "$db" "select group_concat(distinct rank) from trials")" 0
rc=0; "$SPARSWEEP" run "$EXAMPLES/test_crash.yaml" --db "$db" --events none --dry-run > "$WORK/dry.out" || rc=$?
check "dry-run exit" "$rc" 0
grep -q "52 trials, 52 already recorded (skipped), 0 would run" "$WORK/dry.out" || { cat "$WORK/dry.out"; fail "dry run"; }
db2="$WORK/np1b.db"
mpirun -np 1 "$SPARSWEEP" run "$EXAMPLES/test_crash.yaml" --db "$db2" --events none --max-failures 2 \
  > "$WORK/run2.out" 2>&1 && fail "the circuit breaker should make the run exit 1"
check "breaker run status" "$(sql "$db2" "select status from runs")" tripped
check "breaker failures" "$(sql "$db2" "select count(*) from trials where status!='ok'")" 2
echo "PASS"
