#!/bin/sh
# `sparsweep plan` contract: every hostile experiment file exits 2 with "file:line:col:" on stderr and
# writes nothing (the working directory stays empty); the shipped examples exit 0 and print their count.
set -u
: "${SPARSWEEP:?SPARSWEEP must name the binary}" "${SW_SOURCE_DIR:?}"
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fails=0
for f in "$SW_SOURCE_DIR"/tests/hostile/expfiles/*.yaml; do
  "$SPARSWEEP" plan "$f" >out.txt 2>err.txt
  rc=$?
  if [ "$rc" -ne 2 ]; then echo "FAIL $f: exit $rc, expected 2"; fails=$((fails + 1)); fi
  if ! grep -Eq "^sparsweep plan: $f:[0-9]+:[0-9]+: " err.txt; then
    echo "FAIL $f: stderr lacks file:line:col:"; cat err.txt; fails=$((fails + 1))
  fi
  if [ -s out.txt ]; then echo "FAIL $f: printed to stdout on error"; fails=$((fails + 1)); fi
  rm -f out.txt err.txt
  if [ -n "$(ls -A .)" ]; then echo "FAIL $f: plan wrote files: $(ls -A .)"; fails=$((fails + 1)); fi
done
for spec in "test_crash.yaml 52" "ffn_small.yaml 28" "noop.yaml 1000" "ffn_default.yaml 32" "default.yaml 25"; do
  set -- $spec
  "$SPARSWEEP" plan "$SW_SOURCE_DIR/experiments/examples/$1" >out.txt 2>err.txt
  rc=$?
  if [ "$rc" -ne 0 ] || [ "$(tail -n 1 out.txt)" != "$2 trials" ]; then
    echo "FAIL $1: exit $rc, last line '$(tail -n 1 out.txt)', expected '$2 trials'"; fails=$((fails + 1))
  fi
  "$SPARSWEEP" plan --json "$SW_SOURCE_DIR/experiments/examples/$1" >out.json 2>err.txt
  if ! python3 -c "import json,sys; d=json.load(open('out.json')); sys.exit(0 if d['count']==$2==len(d['trials']) else 1)"; then
    echo "FAIL $1: --json output is not JSON with count $2"; fails=$((fails + 1))
  fi
  rm -f out.txt err.txt out.json
done
# Every trial hash of the examples and paper files (and a file of awkward numbers and strings) must equal the SHA-256 of
# the canonical text computed by the independent Python reference.
for f in "$SW_SOURCE_DIR"/experiments/examples/*.yaml "$SW_SOURCE_DIR"/experiments/papers/*.yaml \
  "$SW_SOURCE_DIR/tests/hostile/canon_numbers.yaml"; do
  if ! "$SPARSWEEP" plan --json "$f" | python3 "$SW_SOURCE_DIR/tests/reference/canon_config_ref.py" >ref.txt; then
    echo "FAIL $f: canonical JSON differs from the Python reference"; cat ref.txt; fails=$((fails + 1))
  fi
  rm -f ref.txt
done
"$SPARSWEEP" plan >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || { echo "FAIL: plan without FILE exited $rc, expected 2"; fails=$((fails + 1)); }
"$SPARSWEEP" plan /nonexistent/file.yaml >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || { echo "FAIL: plan on a missing file exited $rc, expected 2"; fails=$((fails + 1)); }
echo "plan_cli: $fails failure(s)"
[ "$fails" -eq 0 ]
