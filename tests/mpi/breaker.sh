#!/usr/bin/env bash
# Robustness scenario: the circuit breaker with retries.  40 crashing trials, retries: 2, --max-failures 5:
# retries run next (not behind every first attempt), so the breaker trips after 5 distinct trials used their 3
# attempts (at most 5 x 3, plus the 3 attempts of the trial the other worker is retrying); "not run" in the summary is exactly what the
# resume then runs.
. "$(dirname "$0")/lib.sh"
db="$WORK/breaker.db"
rc=0
mpirun -np 3 "$SPARSWEEP" run "$TESTS/crash_trials.yaml" --db "$db" --events none --max-failures 5 \
  --summary-json "$WORK/sum.json" > "$WORK/run.out" 2>&1 || rc=$?
check "exit after the breaker" "$rc" 1
check "run status" "$(sql "$db" "select status from runs")" tripped
attempts=$(sql "$db" "select count(*) from trials")
echo "attempts before the breaker tripped: $attempts"
[ "$attempts" -le 18 ] || fail "$attempts crashing attempts before the breaker tripped (limit 5 x 3 + 3)"
full=$(sql "$db" "select count(*) from (select config_hash from trials group by 1 having count(*)=3)")
[ "$full" -ge 5 ] && [ "$full" -le 6 ] || fail "$full trials used all 3 attempts (expected 5, or 6 with the other worker's)"
not_run=$(sed -n 's/.*"not_run":\([0-9]*\).*/\1/p' "$WORK/sum.json")
check "not run = trials without all 3 attempts" "$not_run" "$((40 - full))"
grep -q "$not_run not run" "$WORK/run.out" || fail "printed summary disagrees with --summary-json"
rc=0
mpirun -np 3 "$SPARSWEEP" run "$TESTS/crash_trials.yaml" --db "$db" --events none --max-failures 5 > "$WORK/resume.out" 2>&1 || rc=$?
grep -q "$not_run to run" "$WORK/resume.out" || { cat "$WORK/resume.out"; fail "the resume does not run the $not_run trials reported not run"; }
echo "PASS"
