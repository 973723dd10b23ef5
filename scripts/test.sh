#!/usr/bin/env bash
# Installs dependencies (scripts/setup.sh), builds with -Werror and runs every ctest.
#   scripts/test.sh              plain build in build/, all tests
#   scripts/test.sh --sanitize   ASan+UBSan build (clang) in build-asan/, tests labelled unit|fuzz-regress
#                                except those labelled heavy (whole-model workload runs, tests/models.cmake)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
bash scripts/setup.sh
jobs=$(nproc)
if [ "${1:-}" = "--sanitize" ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DSW_WERROR=ON -DSW_ASAN=ON -DSW_UBSAN=ON -DSW_FUZZ=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  # LeakSanitizer inside Open MPI's own allocations is noise; MPI tests run in the plain build.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -L 'unit|fuzz-regress|fuzz' -LE heavy -j"$jobs"
else
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSW_WERROR=ON >/dev/null
  cmake --build build -j"$jobs"
  ctest --test-dir build --output-on-failure -j"$jobs"
fi
