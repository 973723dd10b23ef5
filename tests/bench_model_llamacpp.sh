#!/usr/bin/env bash
# `sparsweep bench model` against a stand-in llama-bench that answers for 1 thread and fails for 2: the 2-thread
# table must show no llama.cpp figure ("-"), not the 1-thread figures again (before, a failed run kept the last
# successful repetition's values and the "vs llama.cpp" column was computed from them).
# Arguments: SPARSWEEP MODEL_FILE TEXT_FILE.
set -euo pipefail
sw="$1" model="$2" text="$3"
[ -r "$model" ] || { echo "no model file $model"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-bm.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat > "$work/llama-bench" <<'FAKE'
#!/bin/sh
# prints llama-bench's CSV for -t 1 (prompt 777 tok/s, decode 111 tok/s); any other thread count fails
t=0; while [ $# -gt 0 ]; do [ "$1" = "-t" ] && t="$2"; shift; done
[ "$t" = 1 ] || exit 1
echo '"n_prompt","n_gen","avg_ts"'
echo '"8","0","777.000000"'
echo '"0","4","111.000000"'
FAKE
chmod +x "$work/llama-bench"
"$sw" bench model --model "$model" --text "$text" --threads 1,2 --reps 1 --prompt 8 --decode 4 --calib 256 \
  --eval 0 --rows native,llama --llama-bench "$work/llama-bench" > "$work/out.txt"
cat "$work/out.txt"
t1=$(awk '/^threads 1/{f=1} /^threads 2/{f=0} f && /^llama.cpp/' "$work/out.txt")
t2=$(awk '/^threads 2/{f=1} f && /^llama.cpp/' "$work/out.txt")
echo "$t1" | grep -q " 111.0 " || { echo "FAIL: the 1-thread llama.cpp row lacks 111.0: $t1"; exit 1; }
echo "$t1" | grep -q " 777.0 " || { echo "FAIL: the 1-thread llama.cpp row lacks 777.0: $t1"; exit 1; }
if echo "$t2" | grep -q "111.0\|777.0"; then echo "FAIL: the failed 2-thread run shows stale figures: $t2"; exit 1; fi
echo "$t2" | awk '{ if ($(NF-4) != "-" || $(NF-1) != "-") exit 1 }' || { echo "FAIL: expected '-' for 2 threads: $t2"; exit 1; }
native2=$(awk '/^threads 2/{f=1} f && /^sparsweep dense native/' "$work/out.txt")
echo "$native2" | awk '{ if ($(NF-2) != "-") exit 1 }' || { echo "FAIL: 'vs llama.cpp' must be '-' at 2 threads: $native2"; exit 1; }
echo PASS
