#!/bin/bash
# psij-python 0.9.11's own test suite (its Slurm executor) against corral's Slurm-compatible
# commands, with the kit in ../shared/psij (get-psij.sh must have run once).
#   bench/psij.sh [LABEL] [-- pytest args]      results: /tmp/psij-results/LABEL (corral)
# It starts a throw-away instance that guests may use, with two declared nodes of 4 cores
# (so that the suite's 4-task and 2-node jobs fit), each served by a `corral agent` of its own
# in a UTS namespace named for its node (test_nodes counts the hostnames its tasks print),
# makes the commands' directory with an interpreter the submitting user can run
# (CORRAL_SLURM_PYTHON, default /usr/bin/python3) and runs the kit's run.sh with EXECUTORS
# (default slurm:single,slurm:multiple,slurm:srun).  Run as root (the kit submits as psijuser).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
kit=${PSIJ_KIT:-$here/../../shared/psij}
[ -x "$kit/run.sh" ] || kit=/work/shared/psij
label=${1:-corral}
[ $# -gt 0 ] && shift
python=${CORRAL_SLURM_PYTHON:-/usr/bin/python3}
export PYTHONPATH="$here/../src${PYTHONPATH:+:$PYTHONPATH}"
work=$(mktemp -d /tmp/corral-psij.XXXXXX)
chmod 755 "$work"
cat > "$work/corral.toml" <<'TOML'
[access]
allow-guest-user = true

[[resource.config]]
hosts = "node[0-1]"
cores = "0-3"
TOML
python3 -m corral keygen "$work/keys" -N 'node[0-1]' > /dev/null
python3 -m corral start --state-dir="$work/state" --config="$work/corral.toml" \
    --listen "ipc://$work/agents.sock" --key-dir "$work/keys" > "$work/controller.log" 2>&1 &
pids=$!
trap 'kill $pids 2>/dev/null; wait $pids 2>/dev/null; rm -rf "$work"' EXIT
export CORRAL_URI="local://$work/state/local.sock"
for _ in $(seq 100); do [ -S "$work/state/local.sock" ] && break; sleep 0.1; done
for node in node0 node1; do
    unshare --uts sh -c 'hostname "$1" && shift && exec "$@"' sh "$node" \
        python3 -m corral agent --connect "ipc://$work/agents.sock" --key-dir "$work/keys" \
        --hostname "$node" > "$work/agent-$node.log" 2>&1 &
    pids="$pids $!"
done
chmod 755 "$work/state"
bin=$("$python" -m corral slurm path)
# shellcheck disable=SC1091
[ -f /tmp/psij/psij.env ] && . /tmp/psij/psij.env
EXECUTORS=${EXECUTORS:-slurm:single,slurm:multiple,slurm:srun} "$kit/run.sh" "$bin" "$label" "$@"
