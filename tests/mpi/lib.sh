# Shared helpers for the end-to-end MPI tests (sourced by tests/mpi/*.sh; run by ctest, see tests/e2e.cmake).
# Environment from ctest: SPARSWEEP (binary), SW_SOURCE_DIR, OMPI_* root/oversubscribe variables.
set -euo pipefail
: "${SPARSWEEP:?SPARSWEEP must name the sparsweep binary}"
: "${SW_SOURCE_DIR:?SW_SOURCE_DIR must name the source tree}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
EXAMPLES="$SW_SOURCE_DIR/experiments/examples"
TESTS="$SW_SOURCE_DIR/tests/mpi"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sw-e2e.XXXXXX")"
trap '[ -n "${SW_KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT  # SW_KEEP_WORK=1 keeps it for debugging

fail() { echo "FAIL: $*" >&2; exit 1; }
# check NAME GOT WANT
check() { [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"; echo "ok: $1 = $3"; }
sql() { sqlite3 -batch -noheader "$1" "$2"; }

# Waits until no process still has the database path on its command line (orphaned ranks after a
# kill -9 of mpirun exit on their own once they lose mpirun); kills them after 20 s.
wait_gone() {
  local pattern="$1" i
  for i in $(seq 1 100); do
    pgrep -f -- "$pattern" >/dev/null || return 0
    sleep 0.2
  done
  for p in $(pgrep -f -- "$pattern"); do kill -9 "$p" 2>/dev/null || true; done  # only our unique temp path
  sleep 0.5
}

# Waits until the database has at least N trial rows (committed), up to 60 s.
wait_rows() {
  local db="$1" n="$2" i got
  for i in $(seq 1 300); do
    got=$(sqlite3 -batch -noheader "$db" "select count(*) from trials" 2>/dev/null || echo 0)
    [ "${got:-0}" -ge "$n" ] && return 0
    sleep 0.2
  done
  fail "database $db never reached $n rows"
}

# Waits until an SQL count query reaches N, up to 60 s.
wait_sql() {
  local db="$1" q="$2" n="$3" i got
  for i in $(seq 1 300); do
    got=$(sqlite3 -batch -noheader "$db" "$q" 2>/dev/null || echo 0)
    [ "${got:-0}" -ge "$n" ] && return 0
    sleep 0.2
  done
  fail "'$q' on $db never reached $n"
}

# Pid of the MPI rank 0 among the children of an mpirun process.
rank0_pid() {
  local mp="$1" p
  for p in $(pgrep -P "$mp"); do
    if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=0; then echo "$p"; return 0; fi
  done
  return 1
}

# A free-ish TCP port for the event endpoint (tests run one at a time: RESOURCE_LOCK mpi).
event_port() { echo $(( 20000 + ($$ % 20000) )); }

# Pid of MPI rank R among the children of an mpirun process.
rank_pid() {
  local mp="$1" r="$2" p
  for p in $(pgrep -P "$mp"); do
    if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$r"; then echo "$p"; return 0; fi
  done
  return 1
}
