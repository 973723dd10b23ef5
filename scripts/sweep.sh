#!/usr/bin/env bash
# Installs dependencies and the default model, builds, runs the default sweep under mpirun on this
# machine and prints its result table.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
db="${SPARSWEEP_DB:-$here/results/default.db}"
progress=()  # under mpirun rank 0's stderr is a pipe: ask for the terminal line when ours is a terminal
[ -t 2 ] && progress=(--progress tty)
mpirun -np "${SPARSWEEP_NP:-3}" build/cli/sparsweep run experiments/examples/default.yaml --db "$db" "${progress[@]}"
build/cli/sparsweep report "$db"
