"""``corral start --bootstrap``: the controller starts the agents itself, over ssh on each
declared host and with srun on each node of a Slurm allocation.  ``ssh`` and ``srun`` are
stand-ins on PATH that run the command on the named host's network namespace (``ip netns
exec``), as the real ones would on the named machine; the agents stop with the controller."""

import json
import os
import signal
import subprocess
import sys
import textwrap

from corral.transport import keys
from support import connected, until

PORT = 7200
#: ssh [-o OPTION]... HOST COMMAND: COMMAND through the host's shell, stdin passed on.
FAKE_SSH = """
import json, os, sys
namespaces = json.loads(os.environ["CORRAL_TEST_NAMESPACES"])
args = sys.argv[1:]
with open(os.environ["CORRAL_TEST_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
while args[0].startswith("-"):
    args = args[2:] if args[0] == "-o" else args[1:]
host, command = args[0], " ".join(args[1:])
os.execvp("ip", ["ip", "netns", "exec", namespaces[host], "unshare", "--uts", "--", "sh", "-c",
                 'hostname "$1" && exec sh -c "$2"', "sh", host, command])
"""
#: srun --OPTION=VALUE... COMMAND: COMMAND once on each node of --nodelist, with the
#: variables srun sets, until all end; SIGTERM goes to every one.
FAKE_SRUN = """
import json, os, signal, subprocess, sys
from corral import hostlist
namespaces = json.loads(os.environ["CORRAL_TEST_NAMESPACES"])
args = sys.argv[1:]
with open(os.environ["CORRAL_TEST_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
options = {}
while args[0].startswith("--"):
    name, _, value = args.pop(0)[2:].partition("=")
    options[name] = value
nodes = hostlist.expand(options["nodelist"])
assert len(nodes) == int(options["nodes"]) == int(options["ntasks"])
assert options["ntasks-per-node"] == "1"
children = [
    subprocess.Popen(["ip", "netns", "exec", namespaces[node], "unshare", "--uts", "--", "sh",
                      "-c", 'hostname "$1" && shift && exec "$@"', "sh", node, *args],
                     env=dict(os.environ, SLURMD_NODENAME=node, SLURM_PROCID=str(rank),
                              SLURM_NODEID=str(rank)))
    for rank, node in enumerate(nodes)]
signal.signal(signal.SIGTERM, lambda signum, frame: [c.send_signal(signum) for c in children])
sys.exit(max(child.wait() for child in children))
"""
NODES = ["node1", "node2", "node3"]


def fake(directory, name, body):
    path = directory / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)


def start_bootstrapped(network, tmp_path, method, config_text, env=None):
    """A controller on host ``ctl`` that starts its agents with ``method``; the hosts
    node1..node3; ``(controller process, client, log of the fake's calls)``."""
    controller = network.add_host("ctl")
    hosts = {name: network.add_host(name) for name in NODES}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake(bin_dir, "ssh", FAKE_SSH)
    fake(bin_dir, "srun", FAKE_SRUN)
    key_dir = tmp_path / "keys"
    keys.create(str(key_dir), NODES)
    config = tmp_path / "corral.toml"
    config.write_text(f'[agents]\ncommand = ["{sys.executable}", "-m", "corral"]\n'
                      + config_text)
    calls = tmp_path / "calls"
    state_dir = tmp_path / "state"
    environment = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}",
                       CORRAL_TEST_LOG=str(calls), **(env or {}),
                       CORRAL_TEST_NAMESPACES=json.dumps(
                           {name: host.namespace for name, host in hosts.items()}))
    with open(tmp_path / "controller.log", "w") as log:
        process = network.spawn(
            controller, [sys.executable, "-m", "corral", "start", "-vv",
                         f"--bootstrap={method}", f"--config={config}",
                         f"--state-dir={state_dir}", f"--key-dir={key_dir}",
                         f"--listen=tcp://{controller.address}:{PORT}"],
            env=environment, stdout=log, stderr=subprocess.STDOUT)
    client = until(lambda: connected(f"local://{state_dir}/local.sock"), timeout=20)
    until(lambda: all(not node["drained"] for node in nodes(client)), timeout=30)
    return process, client, calls


def nodes(client) -> list[dict]:
    return client.rpc("resource.list", {})["nodes"]


def hostnames_of_a_job_on_every_node(client) -> list[str]:
    result = subprocess.run([sys.executable, "-m", "corral", "run", "-N3", "-n3", "hostname"],
                            env=dict(os.environ, CORRAL_URI=client.uri), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return sorted(result.stdout.split())


def agents_left(network) -> list[str]:
    """The node hosts where something still runs."""
    return [name for name in NODES
            if subprocess.run(["ip", "netns", "pids", network.hosts[name].namespace],
                              capture_output=True, text=True).stdout.strip()]


def test_ssh_bootstrap_starts_an_agent_on_each_declared_host_and_stops_them(network,
                                                                            tmp_path):
    process, client, calls = start_bootstrapped(
        network, tmp_path, "ssh", '\n[[resource.config]]\nhosts = "node[1-3]"\ncores = "0-1"\n')
    with client:
        assert hostnames_of_a_job_on_every_node(client) == NODES
    # The default ssh command, one host each, the agent exec'd by the remote shell.
    invocations = [json.loads(line) for line in calls.read_text().splitlines()]
    assert sorted(call[2] for call in invocations) == NODES
    for call in invocations:
        assert call[:2] == ["-o", "BatchMode=yes"] and len(call) == 4
        assert call[3].startswith("exec ") and f"--hostname={call[2]}" in call[3]
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    until(lambda: agents_left(network) == [], timeout=15)


def test_ssh_bootstrapped_agents_end_when_the_controller_is_killed(network, tmp_path):
    process, client, _ = start_bootstrapped(
        network, tmp_path, "ssh", '\n[[resource.config]]\nhosts = "node[1-3]"\ncores = "0-1"\n')
    client.close()
    process.kill()
    process.wait()
    until(lambda: agents_left(network) == [], timeout=15)


def test_slurm_bootstrap_serves_the_allocation_with_one_srun_step(network, tmp_path):
    process, client, calls = start_bootstrapped(
        network, tmp_path, "slurm", "",
        env={"SLURM_JOB_NODELIST": "node[1-3]", "SLURM_JOB_CPUS_PER_NODE": "2(x2),1"})
    with client:
        # The allocation's nodes and CPUs, none declared.
        assert [(node["name"], node["cores"]) for node in nodes(client)] == [
            ("node1", "0-1"), ("node2", "0-1"), ("node3", "0")]
        assert hostnames_of_a_job_on_every_node(client) == NODES
    [call] = [json.loads(line) for line in calls.read_text().splitlines()]
    assert "--nodelist=node[1-3]" in call and "--ntasks-per-node=1" in call
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    until(lambda: agents_left(network) == [], timeout=15)
