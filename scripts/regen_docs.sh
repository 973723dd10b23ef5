#!/usr/bin/env bash
# Regenerates the two generated sections of the documentation from the built binary, so they never drift from
# the code: the experiment key reference in experiments/README.md (`sparsweep workloads --markdown`, from
# experiments/sw_keys_table.c) and the metric reference in results/SCHEMA.md (`sparsweep report --explain
# --markdown`, from common/sw_metrics.h).  tests/hostile/check_keys_cli.sh fails when either is stale.
# Usage: scripts/regen_docs.sh [BUILD_DIR]   (default: build)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$src/build}/cli/sparsweep"
[ -x "$bin" ] || { echo "regen_docs: $bin not built (cmake --build build)" >&2; exit 2; }

# splice FILE TAG CMD...: replaces the lines between <!-- TAG:begin --> and <!-- TAG:end --> with CMD's output.
splice() {
  local file="$1" tag="$2"; shift 2
  local body; body="$(mktemp)"
  "$@" >"$body"
  grep -q "^<!-- $tag:begin" "$file" || { echo "regen_docs: no <!-- $tag:begin --> in $file" >&2; exit 2; }
  awk -v tag="$tag" -v body="$body" '
    $0 ~ "^<!-- " tag ":begin" { print; while ((getline line < body) > 0) print line; skip = 1; next }
    $0 ~ "^<!-- " tag ":end"   { skip = 0 }
    !skip { print }' "$file" >"$file.tmp"
  mv "$file.tmp" "$file"
  rm -f "$body"
  echo "regen_docs: $file ($tag) regenerated"
}

splice "$src/experiments/README.md" keys "$bin" workloads --markdown
splice "$src/results/SCHEMA.md" metrics "$bin" report --explain --markdown
