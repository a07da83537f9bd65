"""Node hooks of a persistent instance on one machine: its nodes are served by ``corral
agent`` processes (so that jobs outlive the controller), node hooks configured or not, and
each agent runs the hooks of the instance's configuration itself, as slurmd does.
"""

import os
import pathlib

import pytest
from prep_helpers import submit, wait

pytestmark = pytest.mark.agent_processes  # a persistent instance as started by default


def agent_pid(instance, node: str) -> int:
    return int(pathlib.Path(instance.state_dir, "agents", f"{node}.pid").read_text())


def test_a_persistent_instance_runs_its_node_prologs_in_its_agent_processes(
        prep_instance, make_script, tmp_path):
    """The prolog's parent is the agent of its node: a process of its own, neither the
    controller nor the other node's agent, started with the instance's configuration."""
    prolog = make_script("prolog", f'echo "$PPID" > {tmp_path}/prolog.$SLURMD_NODENAME\n')
    instance = prep_instance(f'prolog = "{prolog}"', test_size=2)
    with instance.client() as client:
        job_id = submit(client, ["true"], nnodes=2)
        wait(client, job_id)
        assert client.job(job_id)["result_name"] == "COMPLETED"
    agents = {node: agent_pid(instance, node) for node in ("node0", "node1")}
    assert len(set(agents.values())) == 2 and instance.process.pid not in agents.values()
    for node, pid in agents.items():
        assert int((tmp_path / f"prolog.{node}").read_text()) == pid
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            argv = file.read().decode().split("\0")
        assert f"--config={os.path.abspath(instance.config)}" in argv
