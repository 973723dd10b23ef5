#!/bin/sh
# Declared keys (experiments/sw_keys_table.c) at the command line:
#  1. every file of tests/hostile/keyfiles/ (a misspelt key or value, a value of the wrong type or out of range)
#     is refused by `plan` and by `run` with exit 2, "file:line:col: " and the message of its first line, and
#     neither writes anything; the position is where the file's first line says the bad text is, found here
#     independently of sparsweep (first occurrence after line 1);
#  2. no runner reads its config around the tables: workers/sw_trial*.c and workers/sw_slot.c read keys only
#     through experiments/sw_keys.h (sw_key_*, sw_keys_read, which refuse undeclared names);
#  3. experiments/README.md's key reference is exactly `sparsweep workloads --markdown`;
#  4. results/SCHEMA.md's metric reference is exactly `sparsweep report --explain --markdown`;
#  5. the trial hashes of the shipped experiment files equal those of tests/reference/config_hashes.txt,
#     computed before the key tables existed, so their databases resume without re-running anything.
set -u
: "${SPARSWEEP:?SPARSWEEP must name the binary}" "${SW_SOURCE_DIR:?}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fails=0
n_files=0
for f in "$SW_SOURCE_DIR"/tests/hostile/keyfiles/*.yaml; do
  n_files=$((n_files + 1))
  head1=$(head -n 1 "$f")
  token=$(printf '%s\n' "$head1" | sed -n 's/^# refused at: \(.*\) | message: .*$/\1/p')
  message=$(printf '%s\n' "$head1" | sed -n 's/^# refused at: .* | message: \(.*\)$/\1/p')
  pos=$(awk -v t="$token" 'NR > 1 && index($0, t) { print NR ":" index($0, t); exit }' "$f")
  if [ -z "$token" ] || [ -z "$message" ] || [ -z "$pos" ]; then
    echo "FAIL $f: first line must be '# refused at: TEXT | message: ...' with TEXT in the file"; fails=$((fails + 1))
    continue
  fi
  for cmd in plan run; do
    if [ "$cmd" = plan ]; then "$SPARSWEEP" plan "$f" >out.txt 2>err.txt; rc=$?
    else "$SPARSWEEP" run "$f" --db "$work/run.db" --events none >out.txt 2>err.txt; rc=$?; fi
    [ "$rc" -eq 2 ] || { echo "FAIL $cmd $f: exit $rc, expected 2"; cat err.txt; fails=$((fails + 1)); }
    if ! grep -Fq "$f:$pos: $message" err.txt; then
      echo "FAIL $cmd $f: expected '$f:$pos: $message' on stderr, got:"; cat err.txt; fails=$((fails + 1))
    fi
    if [ "$cmd" = plan ] && [ -s out.txt ]; then echo "FAIL $f: plan printed to stdout"; fails=$((fails + 1)); fi
    rm -f out.txt err.txt
    if [ -n "$(ls -A .)" ]; then echo "FAIL $cmd $f: wrote $(ls -A .)"; fails=$((fails + 1)); rm -rf ./*; fi
  done
done
[ "$n_files" -ge 11 ] || { echo "FAIL: only $n_files key files"; fails=$((fails + 1)); }
bypass=$(grep -n 'sw_json_get_\(int\|str\|double\|bool\)\|sw_json_get(config' "$SW_SOURCE_DIR"/workers/sw_trial*.c \
  "$SW_SOURCE_DIR"/workers/sw_slot.c)
[ -z "$bypass" ] || { echo "FAIL: runners read config keys around experiments/sw_keys.h:"; echo "$bypass"; fails=$((fails + 1)); }
"$SPARSWEEP" workloads --markdown >want.md || { echo "FAIL: workloads --markdown"; fails=$((fails + 1)); }
sed -n '/^<!-- keys:begin/,/^<!-- keys:end/p' "$SW_SOURCE_DIR/experiments/README.md" | sed '1d;$d' >got.md
if ! cmp -s want.md got.md || [ ! -s want.md ]; then
  echo "FAIL: experiments/README.md key reference differs from 'sparsweep workloads --markdown' (HINT: scripts/regen_docs.sh):"; diff got.md want.md | head -20
  fails=$((fails + 1))
fi
rm -f want.md got.md
"$SPARSWEEP" report --explain --markdown >want.md || { echo "FAIL: report --explain --markdown"; fails=$((fails + 1)); }
sed -n '/^<!-- metrics:begin/,/^<!-- metrics:end/p' "$SW_SOURCE_DIR/results/SCHEMA.md" | sed '1d;$d' >got.md
if ! cmp -s want.md got.md || [ ! -s want.md ]; then
  echo "FAIL: results/SCHEMA.md metric reference differs from 'sparsweep report --explain --markdown' (HINT: scripts/regen_docs.sh):"
  diff got.md want.md | head -20; fails=$((fails + 1))
fi
rm -f want.md got.md
"$SPARSWEEP" workloads fnn >/dev/null 2>err.txt; rc=$?
{ [ "$rc" -eq 2 ] && grep -q "did you mean 'ffn'" err.txt; } || { echo "FAIL: workloads fnn: exit $rc"; fails=$((fails + 1)); }
rm -f err.txt
n_hashed=0
while read -r file count digest; do
  case "$file" in '#'*|'') continue ;; esac
  n_hashed=$((n_hashed + 1))
  got=$("$SPARSWEEP" plan --json "$SW_SOURCE_DIR/$file" | python3 -c '
import hashlib, json, sys
d = json.load(sys.stdin)
hs = [t["hash"] for t in d["trials"]]
print(len(hs), hashlib.sha256("\n".join(hs).encode()).hexdigest())')
  [ "$got" = "$count $digest" ] || { echo "FAIL $file: trial hashes changed ($got, expected $count $digest)"; fails=$((fails + 1)); }
done < "$SW_SOURCE_DIR/tests/reference/config_hashes.txt"
[ "$n_hashed" -ge 10 ] || { echo "FAIL: only $n_hashed files in config_hashes.txt"; fails=$((fails + 1)); }
echo "keys_cli: $n_files refused files, $n_hashed hashed files, $fails failure(s)"
[ "$fails" -eq 0 ]
