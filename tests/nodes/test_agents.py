"""A controller and ``corral agent`` processes on hosts in network namespaces: jobs across
nodes, refused agents and credentials, and nodes that fail under running jobs."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import pytest

from support import connected, events, until, wait

PORT = 7200
#: Short clocks so that the tests take seconds: heartbeat, unresponsive, lost.
TIMING = {"heartbeat-interval": 0.2, "unresponsive-after": 1.5, "lost-after": 3.0}
NODES = ["node1", "node2", "node3", "node4"]
#: A controller that welcomes agents with its own credential key and sends each a start
#: signed with another: what a forged launch credential looks like to an agent.
FORGER = """
import asyncio, json, sys
from corral.prep.cred import CredentialKey
from corral.transport import ControllerTransport

async def main():
    done = asyncio.get_running_loop().create_future()
    forged = CredentialKey()
    def registered(registration, event):
        start = {"type": "start", "job": 7, "rank": 0, "userid": 0, "cwd": "/",
                 "command": ["touch", sys.argv[3]], "env": {}, "stdout": "/dev/null",
                 "stderr": "/dev/null", "kept": [],
                 "tasks": [{"rank": 0, "cores": [0], "gpus": []}]}
        start["token"] = forged.launch_token(start)
        asyncio.get_running_loop().call_soon(transport.send, registration.hostname, start)
    def answer(host, message):
        print(json.dumps(message), flush=True)
        if message["type"] == "finished":
            done.set_result(None)
    transport = ControllerTransport(sys.argv[1], sys.argv[2], on_message=answer,
                                    on_register=registered,
                                    credential_secret=CredentialKey().secret)
    await transport.start()
    await done
    await transport.close()

asyncio.run(main())
"""


def corral(*args, **run) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corral", *args], capture_output=True,
                          text=True, **run)


def keygen(directory, nodes):
    corral("keygen", str(directory), "-N", nodes, check=True)
    return directory


class Cluster:
    """A controller on host ``ctl`` serving node1..node4 at tcp://ctl:PORT; it sees only its
    own processes, as on a machine of its own."""

    def __init__(self, network, tmp_path, cores="0-1", extra=""):
        """``extra``: more TOML for the controller's configuration."""
        self.network = network
        self.tmp_path = tmp_path
        self.controller_host = network.add_host("ctl")
        self.hosts = {name: network.add_host(name) for name in NODES}
        self.keys = keygen(tmp_path / "keys", "node[1-4]")
        self.endpoint = f"tcp://{self.controller_host.address}:{PORT}"
        self.agents = {}
        config = tmp_path / "corral.toml"
        config.write_text(f'[[resource.config]]\nhosts = "node[1-4]"\ncores = "{cores}"\n\n'
                          '[agents]\n' + "".join(f"{key} = {value}\n"
                                                 for key, value in TIMING.items()) + extra)
        self.config = config
        self.state_dir = tmp_path / "state"
        self.uri = f"local://{self.state_dir}/local.sock"
        self.controller_log = tmp_path / "controller.log"
        self.client = None
        self.start_controller()

    def start_controller(self):
        with open(self.controller_log, "a") as log:
            self.controller = self.network.spawn(
                self.controller_host,
                [sys.executable, "-m", "corral", "start", "-v", "--config", str(self.config),
                 "--state-dir", str(self.state_dir), "--listen", f"tcp://*:{PORT}",
                 "--key-dir", str(self.keys)],
                own_processes=True, stdout=log, stderr=log)
        self.client = until(lambda: connected(self.uri), timeout=20)

    def start_agent(self, hostname, key_dir=None, as_name=None, config=None, options=()):
        log_path = self.tmp_path / f"agent-{hostname}-{len(self.network.processes)}.log"
        options = [f"--{key}={value}" for key, value in TIMING.items()] + list(options)
        if config is not None:
            options.append(f"--config={config}")
        if as_name is not None:
            options.append(f"--hostname={as_name}")
        with open(log_path, "w") as log:
            process = self.network.spawn(
                self.hosts[hostname],
                [sys.executable, "-m", "corral", "agent", "--connect", self.endpoint,
                 "--key-dir", str(key_dir or self.keys), *options],
                stdout=log, stderr=log)
        process.log_path = log_path
        self.agents[hostname] = process
        return process

    def nodes(self) -> dict:
        return {node["name"]: node
                for node in self.client.rpc("resource.list", {})["nodes"]}

    def wait_up(self, names):
        until(lambda: all(not self.nodes()[name]["drained"] for name in names), timeout=20)

    def submit(self, *args) -> int:
        result = corral("submit", *args, env=dict(os.environ, CORRAL_URI=self.uri))
        assert result.returncode == 0, result.stderr
        return int(result.stdout)

    def log(self) -> str:
        return self.controller_log.read_text()

    def close(self):
        self.client.close()


@pytest.fixture
def cluster(network, tmp_path):
    cluster = Cluster(network, tmp_path)
    try:
        yield cluster
    finally:
        cluster.close()


def test_job_on_four_agents_runs_a_task_on_each_host(cluster):
    # Until their agents register, the nodes are down and say why.
    assert {node["reason"] for node in cluster.nodes().values()} == {"agent not registered"}
    for name in NODES:
        cluster.start_agent(name)
    cluster.wait_up(NODES)
    result = corral("run", "-N4", "-n4", "hostname", timeout=60,
                    env=dict(os.environ, CORRAL_URI=cluster.uri))
    assert result.returncode == 0, result.stderr + cluster.log()
    assert sorted(result.stdout.split()) == NODES


def test_stdin_reaches_task_0_on_a_remote_agent(cluster):
    for name in NODES[:2]:
        cluster.start_agent(name)
    cluster.wait_up(NODES[:2])
    result = corral("run", "-N2", "-n2", "sh", "-c", 'cat | sed "s/^/$(hostname): /"',
                    input="over the wire\n", timeout=60,
                    env=dict(os.environ, CORRAL_URI=cluster.uri))
    assert result.returncode == 0, result.stderr + cluster.log()
    assert result.stdout == f"{NODES[0]}: over the wire\n"


def test_job_waits_for_the_agent_of_its_node_to_register(cluster):
    for name in NODES[:3]:
        cluster.start_agent(name)
    cluster.wait_up(NODES[:3])
    job = cluster.submit("-N4", "-n4", "hostname")
    time.sleep(1)
    assert events(cluster.client, job, "alloc") == []
    cluster.start_agent("node4")
    wait(cluster.client, job, "clean")
    [finish] = events(cluster.client, job, "finish")
    assert finish["context"]["status"] == 0


def test_agent_with_a_key_the_controller_does_not_know_is_refused(cluster, tmp_path):
    strangers = keygen(tmp_path / "strangers", "node1")
    key_dir = tmp_path / "stranger"
    (key_dir / "agents").mkdir(parents=True, mode=0o700)
    shutil.copy(cluster.keys / "controller.key", key_dir)
    shutil.copy(strangers / "agents" / "node1.key_secret", key_dir / "agents")
    agent = cluster.start_agent("node1", key_dir=key_dir)
    assert agent.wait(20) == 1
    assert f"refused this agent: this node's key ({key_dir}/agents/node1.key_secret) is " \
           "not accepted" in pathlib.Path(agent.log_path).read_text()


def test_agent_of_an_undeclared_hostname_is_refused_with_the_reason_on_both_sides(
        cluster, tmp_path):
    keys = keygen(cluster.keys, "node9")  # a valid key, for a node the instance lacks
    agent = cluster.start_agent("node1", key_dir=keys, as_name="node9")
    assert agent.wait(20) == 1
    reason = "hostname node9 is not one of the nodes declared in [[resource.config]]"
    assert f"refused this agent: {reason}" in pathlib.Path(agent.log_path).read_text()
    until(lambda: f"refused agent node9: {reason}" in cluster.log())


def test_agent_refuses_a_start_not_signed_by_its_controller(network, tmp_path):
    controller = network.add_host("ctl")
    node = network.add_host("node1")
    keys = keygen(tmp_path / "keys", "node1")
    marker = tmp_path / "ran"
    forger = network.spawn(
        controller, [sys.executable, "-c", FORGER, f"tcp://*:{PORT}", str(keys), str(marker)],
        stdout=subprocess.PIPE, text=True)
    network.spawn(node, [sys.executable, "-m", "corral", "agent", "--connect",
                         f"tcp://{controller.address}:{PORT}", "--key-dir", str(keys)],
                  stderr=subprocess.DEVNULL)
    answers = [json.loads(line) for line in forger.communicate(timeout=30)[0].splitlines()]
    # The agent's log comes along (`corral.agent.logs`), the refusal in it.
    logged = [answer["text"] for answer in answers if answer["type"] == "log"]
    assert "node agent node1: job 7: start refused: invalid launch token" in logged
    answers = [answer for answer in answers if answer["type"] != "log"]
    assert [answer["type"] for answer in answers] == ["held", "failed", "finished"]
    assert answers[1]["note"] == "node1: start refused: invalid launch credential"
    assert not marker.exists()


def node_of(cluster, job) -> str:
    wait(cluster.client, job, "start")
    return cluster.client.job_info(job, "R")["R"]["execution"]["nodelist"][0]


def test_killed_agent_fails_only_its_node_jobs_which_requeue_and_run_when_it_returns(
        cluster):
    for name in NODES:
        cluster.start_agent(name)
    cluster.wait_up(NODES)
    # One job per node (each takes both of a node's cores); one may not be requeued.
    jobs = [cluster.submit("-N1", "-n1", "-c2", "sleep", "60") for _ in range(3)]
    jobs.append(cluster.submit("-N1", "-n1", "-c2", "-S", "requeue=false", "sleep", "60"))
    where = {job: node_of(cluster, job) for job in jobs}
    assert sorted(where.values()) == NODES
    by_node = {node: job for job, node in where.items()}
    requeued, kept = by_node["node2"] if by_node["node2"] != jobs[3] else by_node["node3"], \
        jobs[3]
    for victim in (where[requeued], where[kept]):
        cluster.agents[victim].kill()  # SIGKILL: the node is gone without a word
    killed_at = time.monotonic()
    for job in (requeued, kept):
        exception = wait(cluster.client, job, "exception", timeout=20)["context"]
        node, rank = where[job], NODES.index(where[job])
        assert exception["type"] == "node-fail" and exception["severity"] == 0
        assert f"node {node} (rank {rank}) lost" in exception["note"]
    assert time.monotonic() - killed_at < 8
    assert [e["name"] for e in events(cluster.client, requeued, "requeue")] == ["requeue"]
    wait(cluster.client, kept, "clean")
    assert events(cluster.client, kept, "requeue") == []
    # The other jobs run on, untouched; the lost nodes are down and say why.
    for job in set(jobs) - {requeued, kept}:
        assert events(cluster.client, job, "exception") == []
        assert events(cluster.client, job, "finish") == []
    nodes = cluster.nodes()
    for victim in (where[requeued], where[kept]):
        assert nodes[victim]["drained"] and nodes[victim]["reason"] == "node lost"
    time.sleep(1)
    assert len(events(cluster.client, requeued, "start")) == 1  # no node for it yet
    # The node returns to service when its agent registers again: the requeued job runs.
    cluster.start_agent(where[requeued])
    until(lambda: len(events(cluster.client, requeued, "start")) == 2, timeout=20)
    assert not cluster.nodes()[where[requeued]]["drained"]
    for job in jobs:
        if job != kept:
            cluster.client.cancel(job)


def test_stopped_agent_gets_no_new_work_then_is_lost_and_serves_again_after_sigcont(
        cluster):
    for name in NODES:
        cluster.start_agent(name)
    cluster.wait_up(NODES)
    running = cluster.submit("-N1", "-n1", "-c2", "sleep", "60")
    stopped_node = node_of(cluster, running)
    cluster.agents[stopped_node].send_signal(signal.SIGSTOP)
    until(lambda: cluster.nodes()[stopped_node]["reason"] == "not responding", timeout=10)
    # Three free nodes for four one-node jobs: the fourth waits rather than go to the stopped
    # node.
    others = [cluster.submit("-N1", "-n1", "-c2", "sleep", "60") for _ in range(4)]
    time.sleep(1)
    started = [job for job in others if events(cluster.client, job, "start")]
    assert len(started) == 3
    assert stopped_node not in {node_of(cluster, job) for job in started}
    wait(cluster.client, running, "exception", timeout=10)
    assert cluster.nodes()[stopped_node]["reason"] == "node lost"
    cluster.agents[stopped_node].send_signal(signal.SIGCONT)
    # Back in service: the requeued job or the waiting one runs there.
    until(lambda: not cluster.nodes()[stopped_node]["drained"], timeout=10)
    waiting = (set(others) - set(started)).pop()
    until(lambda: events(cluster.client, waiting, "start")
          or len(events(cluster.client, running, "start")) == 2, timeout=10)
    for job in started:
        assert events(cluster.client, job, "exception") == []
    for job in [running, *others]:
        cluster.client.cancel(job)


def test_each_agent_runs_the_node_hooks_of_its_own_configuration(network, tmp_path):
    """node1's agent reads the controller's configuration, node2's has none: the prolog runs
    on node1 only, and the job runs on both (slurmd runs the Prolog of its own slurm.conf)."""
    prolog = tmp_path / "prolog"
    prolog.write_text(f"#!/bin/sh\ntouch {tmp_path}/prolog.$SLURMD_NODENAME\n")
    prolog.chmod(0o755)
    cluster = Cluster(network, tmp_path, extra=f'\n[prep]\nprolog = "{prolog}"\n')
    try:
        cluster.start_agent("node1", config=cluster.config)
        cluster.start_agent("node2")
        cluster.wait_up(["node1", "node2"])
        job = cluster.submit("-N2", "-n2", "true")
        wait(cluster.client, job, "clean")
        assert cluster.client.job(job)["result_name"] == "COMPLETED"
        assert sorted(path.name for path in tmp_path.glob("prolog.*")) == ["prolog.node1"]
    finally:
        cluster.close()
