#!/usr/bin/env bash
# A cluster on one machine: 3 simulated hosts, each a network namespace (`ip netns`) with its own address on a
# private veth bridge made here, whose processes run in their own UTS namespace (`unshare --uts`) under their
# own host name.  Open MPI starts its daemons on them through a small rsh agent that enters the right
# namespaces, and talks TCP only on the test's own subnet.  The e2e check: a sweep over 3 hosts x 2 ranks
# records 3 host names in the run's provenance and the trials' hosts, takes each host's own measurement slot,
# survives the kill of one host's processes mid-sweep, and the rerun completes the grid with nothing
# duplicated.  Exit 77 (skipped, with the reason) where namespaces cannot be made (not root, no ip/unshare,
# no CAP_NET_ADMIN/CAP_SYS_ADMIN).  Everything is removed on exit, also on failure.  See docs/clusters.md.
#
#   bash tests/cluster/cluster.sh            (SPARSWEEP and SW_SOURCE_DIR from ctest, or the defaults below)
set -euo pipefail
SW_SOURCE_DIR="${SW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
SPARSWEEP="${SPARSWEEP:-$SW_SOURCE_DIR/build/cli/sparsweep}"
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
check() { [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"; echo "ok: $1 = $3"; }
sql() { sqlite3 -batch -noheader "$1" "$2"; }

[ "${EUID:-1}" = 0 ] || skip "needs root to create network and UTS namespaces"
for tool in ip unshare mpirun sqlite3 timeout; do command -v "$tool" >/dev/null || skip "'$tool' not installed"; done

N_HOSTS=3
TAG="sw$(( $$ % 100000 ))"               # unique per invocation: names of namespaces, bridge and veths
NET="10.$(( 200 + $$ % 50 )).$(( $$ % 250 + 1 ))"   # private /24 used only by this test
BRIDGE="${TAG}br"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sw-cluster.XXXXXX")"
export SW_SLOT_DIR="$WORK/slots"
mkdir -p "$SW_SLOT_DIR"

ns_of() { echo "${TAG}h$1"; }
cleanup() {
  set +e
  for h in $(seq 1 $N_HOSTS); do
    local ns; ns="$(ns_of "$h")"
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
    ip link del "${TAG}v$h" 2>/dev/null
  done
  ip link del "$BRIDGE" 2>/dev/null
  [ -n "${SW_KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# ---- the network: a bridge at .254 in this namespace, host h at .h in its own namespace
ip link add "$BRIDGE" type bridge 2>/dev/null || skip "cannot create a bridge (no CAP_NET_ADMIN?)"
ip addr add "$NET.254/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
for h in $(seq 1 $N_HOSTS); do
  ns="$(ns_of "$h")"
  ip netns add "$ns" 2>/dev/null || skip "cannot create a network namespace"
  ip link add "${TAG}v$h" type veth peer name eth0 netns "$ns"
  ip link set "${TAG}v$h" master "$BRIDGE" up
  ip -n "$ns" addr add "$NET.$h/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done
ip netns exec "$(ns_of 1)" unshare --uts true 2>/dev/null || skip "cannot create a UTS namespace"

# ---- the rsh agent Open MPI uses instead of ssh: "agent [ssh options] HOST COMMAND..."
AGENT="$WORK/agent.sh"
cat > "$AGENT" <<EOF
#!/usr/bin/env bash
while [ \$# -gt 0 ] && [ "\${1#-}" != "\$1" ]; do shift; done   # ssh options Open MPI may add
host="\$1"; shift
h="\${host##*.}"
exec ip netns exec "${TAG}h\$h" unshare --uts -- sh -c "hostname simhost\$h && cd '$WORK' && \$*"
EOF
chmod +x "$AGENT"
HOSTFILE="$WORK/hosts"
for h in $(seq 1 $N_HOSTS); do echo "$NET.$h slots=2"; done > "$HOSTFILE"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPI_ARGS=(--hostfile "$HOSTFILE" -np $((2 * N_HOSTS)) --map-by ppr:2:node
  --mca plm_rsh_agent "$AGENT" --mca plm_rsh_no_tree_spawn 1
  --mca oob_tcp_if_include "$NET.0/24" --mca btl self,vader,tcp --mca btl_tcp_if_include "$NET.0/24"
  -x SW_SLOT_DIR -x PATH -x LD_LIBRARY_PATH)
DB="$WORK/cluster.db"
YAML="$SW_SOURCE_DIR/tests/cluster/cluster_trials.yaml"
sweep() { timeout -s KILL "$1" mpirun "${MPI_ARGS[@]}" "$SPARSWEEP" run "$YAML" --db "$DB" --events none --quiet; }

# ---- first sweep; kill every process of host 3 once 15 trials are recorded
sweep 240 > "$WORK/run1.out" 2>&1 &
SWEEP_PID=$!
for _ in $(seq 1 600); do
  rows=$(sql "$DB" "select count(*) from trials" 2>/dev/null || echo 0)
  [ "${rows:-0}" -ge 15 ] && break
  kill -0 "$SWEEP_PID" 2>/dev/null || { cat "$WORK/run1.out"; fail "the sweep ended before 15 trials"; }
  sleep 0.2
done
[ "${rows:-0}" -ge 15 ] || { cat "$WORK/run1.out"; fail "no 15 trials recorded in 120 s"; }
check "hosts in provenance" "$(sql "$DB" "select hosts from runs where run_id = 1")" '["simhost1","simhost2","simhost3"]'
for p in $(ip netns pids "$(ns_of 3)"); do kill -9 "$p" 2>/dev/null || true; done
echo "ok: killed the processes of simhost3 after $rows trials"
wait "$SWEEP_PID" || true
done1=$(sql "$DB" "select count(*) from trials where status = 'ok'")
[ "$done1" -lt 60 ] || fail "the first sweep finished all 60 trials despite the kill"

# ---- rerun: completes the grid, nothing duplicated
sweep 240 > "$WORK/run2.out" 2>&1 || { cat "$WORK/run2.out"; fail "the rerun failed"; }
check "ok trials after the rerun" "$(sql "$DB" "select count(*) from trials where status = 'ok'")" 60
check "configs with more than one ok trial" \
  "$(sql "$DB" "select count(*) from (select config_hash from trials where status = 'ok' group by config_hash having count(*) > 1)")" 0
check "rerun ran only the rest" "$(sql "$DB" "select count(*) from trials where run_id = 2 and status = 'ok'")" $((60 - done1))
check "killed run marked aborted by the rerun (stale-run detection), rerun done" \
  "$(sql "$DB" "select group_concat(status) from (select status from runs order by run_id)")" "aborted,done"
check "trial hosts" "$(sql "$DB" "select group_concat(host) from (select distinct host from trials where status = 'ok' order by host)")" \
  "simhost1,simhost2,simhost3"
# ---- per-host measurement slots: every timed trial took its own host's slot
check "slot mode node on every ok trial" \
  "$(sql "$DB" "select count(*) from metrics m join trials t using (trial_id) where m.name = 'slot_mode' and m.value = 2 and t.status = 'ok'")" 60
for h in 1 2 3; do
  [ -e "$SW_SLOT_DIR/sparsweep-slot-simhost$h.lock" ] || fail "no slot lock file for simhost$h"
done
echo "ok: one slot lock file per simulated host"
echo "PASS"
