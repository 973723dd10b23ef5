#!/usr/bin/env bash
# A database path that cannot be written gives a clear error naming the path, exit status 2, before
# any trial runs (the experiment's trials would each take 20 s) -- with mpirun -np 3 and with one rank.
. "$(dirname "$0")/lib.sh"
exp="$TESTS/long_trials.yaml"
mkdir -p "$WORK/adir"
for db in "$WORK/missing/dir/x.db" "$WORK/adir" "/proc/sparsweep-test.db"; do
  start=$(date +%s)
  rc=0; mpirun -np 3 "$SPARSWEEP" run "$exp" --db "$db" --events none > "$WORK/out" 2>&1 || rc=$?
  check "mpirun exit for '$db'" "$rc" 2
  grep -q "$db" "$WORK/out" || { cat "$WORK/out"; fail "message does not name '$db'"; }
  [ $(( $(date +%s) - start )) -lt 15 ] || fail "a trial seems to have run for '$db'"
  rc=0; "$SPARSWEEP" run "$exp" --db "$db" --events none > "$WORK/out" 2>&1 || rc=$?
  check "single-rank exit for '$db'" "$rc" 2
done
[ ! -e "$WORK/missing" ] || fail "a directory was created"
echo "PASS"
