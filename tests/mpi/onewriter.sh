#!/usr/bin/env bash
# Robustness scenario: two runs on one database.  A second `run` while the first is live is refused
# (exit 2, naming the other run) and writes nothing; with --wait it waits until the first ends (drained
# here) and then completes the grid; two runs started at the same moment: exactly one runs, and no
# configuration has two ok rows.
. "$(dirname "$0")/lib.sh"
db="$WORK/one.db"
# 800 ms trials (16 s for the grid on 2 workers): run 1 must still be live when the --wait run starts, even
# when mpirun starts slowly on a loaded machine; it ends by its drain file, not by running out of trials.
sed 's/sleep_ms: 300/sleep_ms: 800/' "$TESTS/sleep_trials.yaml" > "$WORK/slow_trials.yaml"
mpirun -np 3 "$SPARSWEEP" run "$WORK/slow_trials.yaml" --db "$db" --events none --drain-file "$WORK/drain.now" \
  > "$WORK/first.out" 2>&1 &
mp=$!
wait_rows "$db" 2
rc=0
mpirun -np 3 "$SPARSWEEP" run "$WORK/slow_trials.yaml" --db "$db" --events none > "$WORK/second.out" 2>&1 || rc=$?
check "second run refused" "$rc" 2
grep -q "is in use by run 1 (rank 0 pid [0-9]* on host" "$WORK/second.out" || { cat "$WORK/second.out"; fail "refusal does not name run 1"; }
check "runs after the refusal" "$(sql "$db" "select count(*) from runs")" 1
# --wait: waits while run 1 is live, then (run 1 drained by its drain file) completes the grid
mpirun -np 3 "$SPARSWEEP" run "$WORK/slow_trials.yaml" --db "$db" --events none --wait > "$WORK/third.out" 2>&1 &
mp3=$!
for i in $(seq 1 300); do grep -q "waiting (--wait)" "$WORK/third.out" 2>/dev/null && break; sleep 0.1; done
grep -q "waiting (--wait)" "$WORK/third.out" || fail "the --wait run did not wait"
touch "$WORK/drain.now"
wait "$mp" || fail "the first run failed"
rc=0; wait "$mp3" || rc=$?
check "--wait run" "$rc" 0
check "run 1 status" "$(sql "$db" "select status from runs where run_id=1")" drained
check "ok configs after the --wait run" "$(sql "$db" "select count(distinct config_hash) from trials where status='ok'")" 40
check "configs with two ok rows" "$(sql "$db" "select count(*) from (select config_hash from trials where status='ok' group by 1 having count(*)>1)")" 0
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
