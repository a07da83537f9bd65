"""Where a node agent's tasks run, with a real agent on a real event loop: each task is bound
to its cores from its first instruction, a task on cores this machine lacks runs on the
agent's, the loop's thread ends each start where it was, and a kill or a failure in the
turn of the start reaches every task."""

import asyncio
import os
import signal

from corral.exec.agent import NodeAgent
from corral.prep.cred import CredentialKey

CORES = sorted(os.sched_getaffinity(0))


def _start(key, tmp_path, job_id, command, tasks):
    start = {"type": "start", "job": job_id, "rank": 0, "userid": os.geteuid(),
             "command": command, "env": {"PATH": os.environ["PATH"]}, "cwd": str(tmp_path),
             "stdout": str(tmp_path / f"{job_id}.out"),
             "stderr": str(tmp_path / f"{job_id}.err"), "kept": ["stdout", "stderr"],
             "truncate": True, "tasks": tasks}
    return dict(start, token=key.launch_token(start))


def _run(scenario):
    async def main():
        key = CredentialKey()
        sent = []
        agent = NodeAgent(asyncio.get_running_loop(), 0, "node0", sent.append, None, key)
        try:
            await scenario(agent, key, sent)
        finally:
            agent.kill_all(signal.SIGKILL)

    asyncio.run(main())


def _cores(listed: str) -> list[int]:
    """A kernel CPU list (``0-3,6``) as its cores."""
    cores = []
    for part in listed.split(","):
        first, _, last = part.partition("-")
        cores.extend(range(int(first), int(last or first) + 1))
    return cores


async def _finished(sent, job_id, timeout=10.0):
    for _ in range(int(timeout / 0.01)):
        for message in sent:
            if message["type"] == "finished" and message["job"] == job_id:
                return message
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish: {sent}")


def test_each_task_runs_bound_to_its_core_and_the_loop_thread_stays_put(tmp_path):
    loop_affinity = os.sched_getaffinity(0)
    tasks = [{"rank": rank, "cores": [core], "gpus": []} for rank, core in
             enumerate(CORES * 3)]

    async def scenario(agent, key, sent):
        agent.handle(_start(key, tmp_path, 1, ["grep", "Cpus_allowed_list", "/proc/self/status"],
                            tasks))
        assert os.sched_getaffinity(0) == loop_affinity
        finished = await _finished(sent, 1)
        assert finished["status"] == 0
        assert [message["type"] for message in sent] == ["started", "finished"]

    _run(scenario)
    lines = (tmp_path / "1.out").read_text().split()
    assert sorted(lines[1::2]) == sorted(str(core) for core in CORES * 3)
    assert os.sched_getaffinity(0) == loop_affinity


def test_a_task_of_no_core_of_this_machine_runs_with_the_agents_cores(tmp_path):
    async def scenario(agent, key, sent):
        agent.handle(_start(key, tmp_path, 2, ["grep", "Cpus_allowed_list", "/proc/self/status"],
                            [{"rank": 0, "cores": [max(CORES) + 1000], "gpus": []}]))
        assert (await _finished(sent, 2))["status"] == 0

    _run(scenario)
    assert _cores((tmp_path / "2.out").read_text().split()[1]) == CORES


def test_a_kill_in_the_turn_of_the_start_reaches_every_task(tmp_path):
    async def scenario(agent, key, sent):
        tasks = [{"rank": rank, "cores": [CORES[rank % len(CORES)]], "gpus": []}
                 for rank in range(4)]
        agent.handle(_start(key, tmp_path, 3, ["sleep", "30"], tasks))
        agent.handle({"type": "kill", "job": 3, "signal": signal.SIGTERM})  # the same turn
        finished = await _finished(sent, 3, timeout=5.0)
        assert os.WIFSIGNALED(finished["status"])
        assert os.WTERMSIG(finished["status"]) == signal.SIGTERM
        assert [message["type"] for message in sent] == ["started", "finished"]

    _run(scenario)


def test_tasks_that_cannot_start_fail_their_job_once(tmp_path):
    async def scenario(agent, key, sent):
        tasks = [{"rank": rank, "cores": [CORES[rank % len(CORES)]], "gpus": []}
                 for rank in range(3)]
        agent.handle(_start(key, tmp_path, 4, [str(tmp_path / "absent")], tasks))
        agent.handle(_start(key, tmp_path, 5, ["sleep", "30"], tasks[:1]))
        await _finished(sent, 4)
        failed = [message for message in sent if message["type"] == "failed"]
        assert len(failed) == 1 and "No such file or directory" in failed[0]["note"]
        assert 5 in agent.jobs  # the other job runs on

    _run(scenario)
    assert (tmp_path / "4.err").read_text().count("start failed") == 1
