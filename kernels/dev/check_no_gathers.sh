#!/bin/sh
# Lists AVX2/AVX-512 gather instructions in the compiled kernels (docs/measurement.md, "The machines": gcc 12 -march=native turns
# one-row-at-a-time loops into vgather*, ~4x slower than contiguous rows).  Usage: check_no_gathers.sh BUILD_DIR
# Exit 1 (and the function names) when any object of kernels/ contains a gather.
set -eu
dir="${1:?usage: check_no_gathers.sh BUILD_DIR}/kernels/CMakeFiles/sw_kernels.dir"
found=0
for o in "$dir"/*.o; do
  hits=$(objdump -d "$o" | awk '/^[0-9a-f]+ <.*>:/{fn=$2} /[[:space:]]v(p)?gather/{print fn}' | sort -u)
  if [ -n "$hits" ]; then
    echo "$(basename "$o"): $hits"
    found=1
  fi
done
[ "$found" = 0 ] && echo "no gather instructions in $dir"
exit "$found"
