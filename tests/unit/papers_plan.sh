#!/bin/sh
# Every paper experiment file (experiments/papers/*.yaml) plans, and `sparsweep report` has a layout of its name.
set -u
n=0
for f in "$SW_SOURCE_DIR"/experiments/papers/*.yaml; do
  "$SPARSWEEP" plan "$f" >/dev/null || { echo "plan failed: $f"; exit 1; }
  l=$(basename "$f" .yaml)
  "$SPARSWEEP" report --help | grep -q "^    $l " || { echo "no report layout '$l' for $f"; exit 1; }
  n=$((n + 1))
done
test "$n" -ge 6 || { echo "only $n paper files"; exit 1; }
echo "$n paper files plan, each with a layout"
