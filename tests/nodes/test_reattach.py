"""Jobs that outlive their controller: ``corral agent`` processes on hosts in network
namespaces keep their tasks while the controller is killed and restarted, and the next
controller takes the jobs back; an agent alone too long kills its tasks; a restarted agent's
jobs fail at once; a node undrained before its agent registers holds its work for it."""

import os
import pathlib
import time

import pytest
from test_agents import NODES, Cluster, corral

from corral import jobspec
from support import events, until, wait

#: Jobs i < ENDS_AWAY sleep 1 s: they end while the controller is away.
ENDS_AWAY = 10


@pytest.fixture
def cluster(network, tmp_path):
    # 25 slots a node (more than the machine has: tasks share its cores), 100 in all.
    cluster = Cluster(network, tmp_path, cores="0-24")
    try:
        yield cluster
    finally:
        cluster.close()


def kill_controller(cluster):
    cluster.client.close()
    cluster.controller.kill()
    cluster.controller.wait()
    os.unlink(f"{cluster.state_dir}/local.sock")  # what a killed controller leaves


def job_states(cluster, ids) -> dict:
    listed = {job["id"]: job for job in cluster.client.jobs()}
    return {job_id: listed[job_id]["state"] for job_id in ids}


def test_jobs_outlive_a_killed_controller_and_end_with_their_status_and_output(cluster):
    for name in NODES:
        cluster.start_agent(name)
    cluster.wait_up(NODES)
    specs = [jobspec.build(["sh", "-c", f"sleep {1 if i < ENDS_AWAY else 6}; "
                                        f"echo job {i} on $(hostname); exit {i}"])
             for i in range(100)]
    ids = cluster.client.submit_many(specs)
    until(lambda: all(events(cluster.client, job, "start") for job in ids), timeout=30)
    kill_controller(cluster)
    output = pathlib.Path(cluster.state_dir, "output")
    # The short jobs end while no controller runs: their agents write their output.
    until(lambda: all((output / f"{job}.out").exists() for job in ids[:ENDS_AWAY]),
          timeout=10)
    cluster.start_controller()
    # Taken back: still running, none ended by the restart.
    assert all(not events(cluster.client, job, "exception") for job in ids)
    for index, job in enumerate(ids):
        wait(cluster.client, job, "clean", timeout=30)
        [finish] = events(cluster.client, job, "finish")
        assert os.WEXITSTATUS(finish["context"]["status"]) == index
        assert events(cluster.client, job, "exception") == []
        text = (output / f"{job}.out").read_text()
        assert text.startswith(f"job {index} on node") and text.count("\n") == 1
    assert sum("it takes back the" in pathlib.Path(agent.log_path).read_text()
               for agent in cluster.agents.values()) == 4


def test_agent_without_a_controller_for_reattach_timeout_kills_its_tasks(cluster, tmp_path):
    agent = cluster.start_agent("node1", options=["--reattach-timeout=2"])
    cluster.wait_up(["node1"])
    marker = tmp_path / "survived"
    job = cluster.submit("-N1", "-n1", "sh", "-c", f"sleep 6 && touch {marker}")
    wait(cluster.client, job, "start")
    kill_controller(cluster)
    until(lambda: "(reattach-timeout): killing the tasks of 1 jobs"
          in pathlib.Path(agent.log_path).read_text(), timeout=10)
    # The next controller records the end the agent kept: killed.
    cluster.start_controller()
    finish = wait(cluster.client, job, "finish", timeout=10)
    assert os.WTERMSIG(finish["context"]["status"]) == 9
    time.sleep(6)
    assert not marker.exists()


def test_restarted_agent_fails_its_jobs_at_once_after_a_controller_restart(cluster):
    cluster.start_agent("node1")
    cluster.wait_up(["node1"])
    job = cluster.submit("-N1", "-n1", "-S", "requeue=false", "sleep", "30")
    wait(cluster.client, job, "start")
    kill_controller(cluster)
    cluster.agents["node1"].kill()  # its boot ends: the next agent is a new one
    cluster.agents["node1"].wait()
    cluster.start_agent("node1")
    cluster.start_controller()
    started = time.monotonic()
    exception = wait(cluster.client, job, "exception", timeout=10)["context"]
    assert exception["type"] == "node-fail"
    assert exception["note"] == "the agent of node node1 (rank 0) restarted"
    assert time.monotonic() - started < 3.0  # at once, not after lost-after


def test_node_undrained_before_its_agent_registers_keeps_the_job_for_it(cluster):
    result = corral("resource", "undrain", "node1",
                    env=dict(os.environ, CORRAL_URI=cluster.uri))
    assert result.returncode == 0, result.stderr
    job = cluster.submit("-N1", "-n1", "hostname")
    wait(cluster.client, job, "alloc")
    assert events(cluster.client, job, "exception") == []
    cluster.start_agent("node1")
    finish = wait(cluster.client, job, "finish")
    assert finish["context"]["status"] == 0
    assert events(cluster.client, job, "exception") == []
