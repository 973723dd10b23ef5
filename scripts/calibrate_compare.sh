#!/usr/bin/env bash
# Calibrates `sparsweep compare` on this machine: its false-alarm rate on A/A comparisons (the same build run
# again) and its detection rate of a planted 10% slowdown, for 1, 3 and 5 runs per side, raw latency and
# --paired.  A benchmark, not a test: it prints rates measured here and now, never pass/fail.
#
#   bash scripts/calibrate_compare.sh [--pool N] [--comparisons M] [--sides "1 3 5"] [--slowdown 1.10]
#                                     [--load] [--out DIR]
#
# Pools of runs, each a `sparsweep run --force` of one experiment into one database:
#   - N runs of experiments/examples/ffn_small.yaml (A/A of the real kernels);
#   - N runs of experiments/examples/calib_test.yaml alternating A (no knob) and B (SW_TEST_SLOWDOWN=1.10, the
#     test workload's planted slowdown of its "sparse" loop, workers/sw_trial_test.c), so that drift of the
#     machine during the pool falls on both.
# For k runs per side, each of the M comparisons draws 2k distinct A runs (A/A) or k A and k B runs (planted)
# from the pools at random (seeded, reproducible) and runs `sparsweep compare --min-runs k`.  A comparison
# is a false alarm when it reports any REGRESSION, a detection when it does.  The draws share runs of one
# pool, so the M comparisons are not independent: the rates say what the pool's spread gives, and a larger
# --pool makes them closer to independent.  --load runs a memory-streaming process (NumPy array copies of
# 256 MiB, one core) for the whole calibration, as a busy neighbour.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SW="${SPARSWEEP:-$ROOT/build/cli/sparsweep}"
POOL=12 COMPARISONS=20 SIDES="1 3 5" SLOWDOWN=1.10 LOAD=0 OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --pool) POOL="$2"; shift 2 ;;
    --comparisons) COMPARISONS="$2"; shift 2 ;;
    --sides) SIDES="$2"; shift 2 ;;
    --slowdown) SLOWDOWN="$2"; shift 2 ;;
    --load) LOAD=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "calibrate_compare.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$SW" ] || { echo "calibrate_compare.sh: $SW not built (cmake --build build)" >&2; exit 2; }
for k in $SIDES; do
  [ $((2 * k)) -le "$POOL" ] || { echo "calibrate_compare.sh: --pool $POOL too small for $k runs per side (need $((2 * k)))" >&2; exit 2; }
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
unset SW_TEST_SLOWDOWN
[ -n "$OUT" ] || OUT="$(mktemp -d /tmp/sw_calibrate.XXXXXX)"
mkdir -p "$OUT"
LOAD_PID=""
cleanup() { if [ -n "$LOAD_PID" ]; then kill "$LOAD_PID" 2>/dev/null || true; wait "$LOAD_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT INT TERM
if [ "$LOAD" = 1 ]; then
  python3 -c 'import numpy as np
a = np.ones(1 << 25); b = np.empty_like(a)
while True: np.copyto(b, a)' &
  LOAD_PID=$!
fi

run_pool() { # experiment db count alternate (1: every second run with SW_TEST_SLOWDOWN)
  local yaml="$1" db="$2" n="$3" alternate="$4"
  rm -f "$db" "$db-wal" "$db-shm"
  for i in $(seq 1 "$n"); do
    if [ "$alternate" = 1 ] && [ $((i % 2)) = 0 ]; then
      SW_TEST_SLOWDOWN="$SLOWDOWN" "$SW" run "$yaml" --db "$db" --force >/dev/null 2>>"$OUT/runs.log"
    else
      "$SW" run "$yaml" --db "$db" --force >/dev/null 2>>"$OUT/runs.log"
    fi
  done
}

echo "calibrate_compare: pools of $POOL runs in $OUT (load: $([ "$LOAD" = 1 ] && echo "memory streamer, pid $LOAD_PID" || echo none))" >&2
t0=$(date +%s)
run_pool "$ROOT/experiments/examples/ffn_small.yaml" "$OUT/ffn.db" "$POOL" 0
run_pool "$ROOT/experiments/examples/calib_test.yaml" "$OUT/test.db" $((2 * POOL)) 1
echo "calibrate_compare: pools done in $(( $(date +%s) - t0 )) s; comparing" >&2

python3 - "$SW" "$OUT" "$POOL" "$COMPARISONS" "$SIDES" "$SLOWDOWN" "$LOAD" <<'PY'
import random, re, subprocess, sys
sw, out, pool, m, sides, slowdown, load = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    [int(k) for k in sys.argv[5].split()], sys.argv[6], sys.argv[7] == "1"

def regressions(db, base, cand, k, paired):
    cmd = [sw, "compare", db, "--baseline", ",".join(map(str, base)), "--candidate", ",".join(map(str, cand)),
           "--min-runs", str(k)] + (["--paired"] if paired else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode == 2:
        sys.exit("compare failed: " + " ".join(cmd) + "\n" + p.stderr)
    hit = re.search(r"^(\d+) regressions", p.stdout, re.M)
    return int(hit.group(1)) if hit else 0

a_test = list(range(1, 2 * pool + 1, 2))   # calib_test runs without the knob
b_test = list(range(2, 2 * pool + 1, 2))   # with SW_TEST_SLOWDOWN
ffn = list(range(1, pool + 1))
rows = []
for k in sides:
    rng = random.Random(1000 + k)
    counts = {}
    for paired in (0, 1):
        fa_ffn = fa_test = det = 0
        for _ in range(m):
            s = rng.sample(ffn, 2 * k)
            fa_ffn += regressions(f"{out}/ffn.db", s[:k], s[k:], k, paired) > 0
            s = rng.sample(a_test, 2 * k)
            fa_test += regressions(f"{out}/test.db", s[:k], s[k:], k, paired) > 0
            det += regressions(f"{out}/test.db", rng.sample(a_test, k), rng.sample(b_test, k), k, paired) > 0
        counts[paired] = (fa_ffn, fa_test, det)
    rows.append((k, counts))
print(f"compare calibration: {m} comparisons per cell, pools of {pool} runs, planted slowdown x{slowdown},"
      f" background load: {'memory streamer' if load else 'none'}")
print("| runs per side | A/A ffn_small: false alarms (latency / paired) | A/A calib_test (latency / paired)"
      f" | planted {float(slowdown) - 1:.0%} detected (latency / paired) |")
print("|---:|---:|---:|---:|")
for k, c in rows:
    print(f"| {k} | {c[0][0]}/{m} / {c[1][0]}/{m} | {c[0][1]}/{m} / {c[1][1]}/{m} | {c[0][2]}/{m} / {c[1][2]}/{m} |")
PY
