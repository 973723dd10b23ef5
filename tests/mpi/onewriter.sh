#!/usr/bin/env bash
# Issue 9, observation 2: two runs on one database.  A second `run` while the first is live is refused
# (exit 2, naming the other run) and writes nothing; with --wait it runs after the first and finds everything
# done; two runs started at the same moment: exactly one runs, and no configuration has two ok rows.
. "$(dirname "$0")/lib.sh"
db="$WORK/one.db"
mpirun -np 3 "$SPARSWEEP" run "$TESTS/sleep_trials.yaml" --db "$db" --events none > "$WORK/first.out" 2>&1 &
mp=$!
wait_rows "$db" 2
rc=0
mpirun -np 3 "$SPARSWEEP" run "$TESTS/sleep_trials.yaml" --db "$db" --events none > "$WORK/second.out" 2>&1 || rc=$?
check "second run refused" "$rc" 2
grep -q "is in use by run 1 (rank 0 pid [0-9]* on host" "$WORK/second.out" || { cat "$WORK/second.out"; fail "refusal does not name run 1"; }
check "runs after the refusal" "$(sql "$db" "select count(*) from runs")" 1
rc=0
mpirun -np 3 "$SPARSWEEP" run "$TESTS/sleep_trials.yaml" --db "$db" --events none --wait > "$WORK/third.out" 2>&1 || rc=$?
check "--wait run" "$rc" 0
wait "$mp" || fail "the first run failed"
grep -q "waiting (--wait)" "$WORK/third.out" || fail "the --wait run did not wait"
grep -q "40 skipped" "$WORK/third.out" || { cat "$WORK/third.out"; fail "the --wait run did not find the first's results"; }
# simultaneous start, three times
for i in 1 2 3; do
  db2="$WORK/together$i.db"
  mpirun -np 2 "$SPARSWEEP" run "$TESTS/quick_trials.yaml" --db "$db2" --events none > "$WORK/a$i.out" 2>&1 & a=$!
  mpirun -np 2 "$SPARSWEEP" run "$TESTS/quick_trials.yaml" --db "$db2" --events none > "$WORK/b$i.out" 2>&1 & b=$!
  ra=0; wait "$a" || ra=$?
  rb=0; wait "$b" || rb=$?
  check "exit codes of simultaneous runs $i" "$(echo "$ra $rb" | tr ' ' '\n' | sort | tr '\n' ' ')" "0 2 "
  check "runs recorded $i" "$(sql "$db2" "select count(*) from runs")" 1
  check "ok rows $i" "$(sql "$db2" "select count(*) from trials where status='ok'")" 40
  check "configs with two ok rows $i" "$(sql "$db2" "select count(*) from (select config_hash from trials where status='ok' group by 1 having count(*)>1)")" 0
done
check "lock released" "$(sql "$db" "select count(*) from run_lock")" 0
echo "PASS"
