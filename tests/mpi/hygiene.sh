#!/usr/bin/env bash
# Robustness scenario: descriptor and process hygiene.  A trial under mpirun holds exactly 0-2 and its
# result pipe (none of the rank's MPI sockets), and a grandchild it leaves behind does not outlive the trial.
. "$(dirname "$0")/lib.sh"
db="$WORK/hyg.db"
cat > "$WORK/hyg.yaml" <<YAML
name: hygiene
workload: test
settings:
  pid_file: $WORK/grandchild.pid
measure:
  warmup: 0
  repetitions: 1
timeout: 20
grid:
  product:
    action: [fds, grandchild]
YAML
mpirun -np 2 "$SPARSWEEP" run "$WORK/hyg.yaml" --db "$db" --events none > "$WORK/run.out" 2>&1 || { cat "$WORK/run.out"; fail "run failed"; }
check "ok rows" "$(sql "$db" "select count(*) from trials where status='ok'")" 2
check "descriptors a trial holds" "$(sql "$db" "select cast(value as int) from metrics where name='open_fds'")" 4
check "highest descriptor of a trial" "$(sql "$db" "select cast(value as int) from metrics where name='max_fd'")" 3
gc=$(cat "$WORK/grandchild.pid")
check "grandchild pid recorded" "$(sql "$db" "select cast(value as int) from metrics where name='grandchild_pid'")" "$gc"
state=$(awk '{print $3}' "/proc/$gc/stat" 2>/dev/null || echo gone)
case "$state" in gone|Z|X) echo "ok: grandchild $gc is gone ($state)";; *) kill -9 "$gc"; fail "grandchild $gc outlived its trial ($state)";; esac
echo "PASS"
