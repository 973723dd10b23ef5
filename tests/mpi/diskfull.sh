#!/usr/bin/env bash
# Robustness scenario: summaries that are true.  The database's file system fills up in the middle of a
# sweep (a 2 MiB tmpfs, filled with dd): the commit fails and the sweep exits 1, and the summary printed and
# written with --summary-json counts exactly the rows the database holds.  Needs root to mount a tmpfs:
# reported skipped (exit 77) otherwise.
. "$(dirname "$0")/lib.sh"
small="$WORK/small"
mkdir -p "$small"
if ! mount -t tmpfs -o size=2m tmpfs "$small" 2>/dev/null; then
  echo "SKIP: cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN) to fill the disk"
  exit 77
fi
trap 'umount "$small" 2>/dev/null || true; [ -n "${SW_KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
db="$small/full.db"
mpirun -np 3 "$SPARSWEEP" run "$TESTS/sleep_trials.yaml" --db "$db" --events none --batch 1 \
  --summary-json "$WORK/sum.json" > "$WORK/run.out" 2>&1 &
mp=$!
wait_rows "$db" 4
dd if=/dev/zero of="$small/fill" bs=4k > /dev/null 2>&1 || true   # until the file system is full
rc=0; wait "$mp" || rc=$?
check "exit after a failed commit" "$rc" 1
rows=$(sql "$db" "select count(*) from trials")
ok_rows=$(sql "$db" "select count(*) from trials where status='ok'")
[ "$rows" -lt 40 ] || fail "the disk filled too late ($rows rows)"
check "summary attempts = rows in the database" "$(sed -n 's/.*"attempts":\([0-9]*\).*/\1/p' "$WORK/sum.json")" "$rows"
check "summary ok = ok rows in the database" "$(sed -n 's/.*"ok":\([0-9]*\).*/\1/p' "$WORK/sum.json")" "$ok_rows"
check "summary not run = trials without a row" "$(sed -n 's/.*"not_run":\([0-9]*\).*/\1/p' "$WORK/sum.json")" "$((40 - rows))"
grep -q "$rows attempts recorded" "$WORK/run.out" || fail "printed summary disagrees with the database ($rows rows)"
check "integrity" "$(sql "$db" "pragma integrity_check")" ok
echo "PASS"
