#!/usr/bin/env bash
# Robustness scenario: hostile inputs to the small commands.  A FIFO given as the experiment or the model
# is refused at once (exit 2, naming it) instead of blocking in open(); a UTF-8 byte-order mark is named as
# such; `merge` that rejects its only input leaves no empty output file behind.
. "$(dirname "$0")/lib.sh"
mkfifo "$WORK/pipe"
rc=0; timeout 10 "$SPARSWEEP" plan "$WORK/pipe" > "$WORK/plan.out" 2>&1 || rc=$?
check "plan of a FIFO" "$rc" 2
grep -q "is a FIFO (named pipe), not a regular file" "$WORK/plan.out" || fail "plan: no FIFO message"
rc=0; timeout 10 "$SPARSWEEP" model inspect "$WORK/pipe" > "$WORK/model.out" 2>&1 || rc=$?
check "model inspect of a FIFO" "$rc" 2
grep -q "is a FIFO" "$WORK/model.out" || fail "model inspect: no FIFO message"
rc=0; timeout 10 "$SPARSWEEP" run "$WORK/pipe" --db "$WORK/x.db" > "$WORK/run.out" 2>&1 || rc=$?
check "run of a FIFO" "$rc" 2
[ ! -e "$WORK/x.db" ] || fail "run created a database for a refused experiment"
printf '\357\273\277' > "$WORK/bom.yaml"
cat "$TESTS/quick_trials.yaml" >> "$WORK/bom.yaml"
rc=0; "$SPARSWEEP" plan "$WORK/bom.yaml" > "$WORK/bom.out" 2>&1 || rc=$?
check "plan of a file with a BOM" "$rc" 2
grep -q "starts with a UTF-8 byte-order mark" "$WORK/bom.out" || fail "no byte-order-mark message"
echo "not a database" > "$WORK/junk.db"
rc=0; "$SPARSWEEP" merge "$WORK/out.db" "$WORK/junk.db" > "$WORK/merge.out" 2>&1 || rc=$?
check "merge of a rejected input" "$rc" 1
[ ! -e "$WORK/out.db" ] && [ ! -e "$WORK/out.db-wal" ] || fail "merge left an output file behind"
echo "PASS"
