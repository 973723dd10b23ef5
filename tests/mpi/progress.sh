#!/usr/bin/env bash
# `sparsweep run` shows its progress where the user is: on a terminal (a pseudo-terminal made by `script`) a
# line redrawn in place ("\r" + erase), naming the slowest running trial; with stderr to a file, plain lines
# every 10% of the trials and a final line; --quiet shows neither.  Exit 77 (skipped) without `script`.
. "$(dirname "$0")/lib.sh"
command -v script >/dev/null || { echo "SKIP: the 'script' command (util-linux) is not installed: no pseudo-terminal"; exit 77; }
yaml="$WORK/slow.yaml"
printf 'name: slow\nworkload: test\nsettings:\n  action: sleep\ngrid:\n  product:\n    sleep_ms: [400, 1300]\n    value: [1, 2, 3, 4, 5]\n' > "$yaml"
script -qfec "\"$SPARSWEEP\" run \"$yaml\" --db \"$WORK/tty.db\" --events none" "$WORK/tty.out" > /dev/null || fail "run under script failed"
redraws=$(grep -o $'\r\033\\[K' "$WORK/tty.out" | wc -l)
[ "$redraws" -ge 3 ] || { cat -v "$WORK/tty.out"; fail "terminal: $redraws redraws, expected >= 3"; }
grep -q "slowest running: sleep_ms=1300 value=" "$WORK/tty.out" || { cat -v "$WORK/tty.out"; fail "terminal: no slowest running trial"; }
grep -q "\[10/10\] done 10, failed 0" "$WORK/tty.out" || { cat -v "$WORK/tty.out"; fail "terminal: no final count"; }
echo "ok: terminal line ($redraws redraws)"
"$SPARSWEEP" run "$yaml" --db "$WORK/plain.db" --events none 2> "$WORK/plain.err" || fail "plain run failed"
grep -q $'\r' "$WORK/plain.err" && fail "plain output has carriage returns"
check "plain lines at each 10%" "$(grep -c '^sparsweep run: \[[0-9]*/10\] done' "$WORK/plain.err")" 9
grep -q "^sparsweep run: finished: \[10/10\] done 10" "$WORK/plain.err" || { cat "$WORK/plain.err"; fail "no final plain line"; }
"$SPARSWEEP" run "$yaml" --db "$WORK/quiet.db" --events none --quiet 2> "$WORK/quiet.err" || fail "quiet run failed"
check "quiet progress lines" "$(grep -c 'done .*trials/s' "$WORK/quiet.err" || true)" 0
echo "PASS"
