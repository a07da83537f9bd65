"""The node agent's side of PrEp, with a real agent, host and credential key on a real event
loop: a hook runs only with a credential the controller signed, in a thread of its own while
the loop goes on, and a job's epilog waits for its prolog and for its tasks on that node."""

import asyncio
import os
import sys
import threading
import types

import pytest

from corral import prep
from corral.exec.agent import NodeAgent
from corral.prep.config import PrepSettings
from corral.prep.cred import CredentialKey
from corral.prep.host import PrepHost


class Recorder:
    """A node plugin whose prolog blocks until the test lets it go."""

    def __init__(self):
        self.calls = []
        self.release = threading.Event()
        self.threads = []

    def module(self):
        module = types.ModuleType("agent_test_plugin")
        module.plugin_name = "agent test"
        module.plugin_type = "prep/agent_test"
        module.init = lambda: prep.SUCCESS
        module.fini = lambda: None
        module.prep_p_register_callbacks = lambda callbacks: None
        module.prep_p_prolog_slurmctld = lambda job: prep.SUCCESS
        module.prep_p_epilog_slurmctld = lambda job: prep.SUCCESS
        module.prep_p_required = lambda call_type: True

        def prolog(job_env, cred):
            self.threads.append(threading.current_thread().name)
            self.release.wait(5)
            self.calls.append(("prolog", job_env.job_id, job_env.node_name, cred.account))
            return prep.SUCCESS

        def epilog(job_env, cred):
            self.calls.append(("epilog", job_env.job_id, job_env.node_name, cred.account))
            return 7

        module.prep_p_prolog = prolog
        module.prep_p_epilog = epilog
        return module


@pytest.fixture
def recorder(monkeypatch):
    recorder = Recorder()
    monkeypatch.setitem(sys.modules, "agent_test_plugin", recorder.module())
    return recorder


def _request(key, job_id=5, account="physics"):
    job_env = prep.JobEnv(job_id=job_id, uid=0, gid=0, user_name="root", work_dir="/",
                          node_name="node0", node_list="node0")
    cred = key.sign(prep.Cred(job_id=job_id, uid=0, gid=0, user_name="root",
                              node_list="node0", account=account))
    return {"job": job_id, "job_env": job_env.to_dict(), "cred": cred.to_dict()}


def _run(recorder, scenario):
    async def main():
        loop = asyncio.get_running_loop()
        host = PrepHost(PrepSettings(plugins=("agent_test_plugin",)), controller=False,
                        node=True)
        host.init()
        key = CredentialKey()
        sent = []
        agent = NodeAgent(loop, 0, "node0", sent.append, host, key)
        try:
            await scenario(agent, key, sent)
        finally:
            recorder.release.set()
            host.fini()

    asyncio.run(main())


async def _until(condition, timeout=5.0):
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met")


def test_a_credential_the_controller_did_not_sign_is_refused(recorder):
    async def scenario(agent, key, sent):
        forged = _request(CredentialKey(), job_id=5)
        agent.handle(dict(forged, type="prolog"))
        tampered = _request(key, job_id=6)
        tampered["cred"]["account"] = "astrology"
        agent.handle(dict(tampered, type="epilog"))
        await _until(lambda: len(sent) == 2)
        assert sorted(sent, key=lambda message: message["job"]) == [
            {"type": "prolog-done", "job": 5, "rank": 0, "status": prep.ERROR,
             "error": "invalid launch credential"},
            {"type": "epilog-done", "job": 6, "rank": 0, "status": prep.ERROR,
             "error": "invalid launch credential"}]
        assert recorder.calls == []

    _run(recorder, scenario)


def test_hooks_run_off_the_loop_and_the_epilog_waits_for_the_prolog(recorder):
    async def scenario(agent, key, sent):
        request = _request(key)
        agent.handle(dict(request, type="prolog"))
        agent.handle(dict(request, type="epilog"))
        ticks = 0
        while ticks < 20:  # the loop keeps running while the prolog blocks its thread
            await asyncio.sleep(0.01)
            ticks += 1
        assert sent == [] and recorder.calls == []
        recorder.release.set()
        await _until(lambda: len(sent) == 2)
        assert [message["type"] for message in sent] == ["prolog-done", "epilog-done"]
        assert [message["status"] for message in sent] == [0, 7]
        assert recorder.calls == [("prolog", 5, "node0", "physics"),
                                  ("epilog", 5, "node0", "physics")]
        assert recorder.threads == ["prep-prolog-5"]

    _run(recorder, scenario)


def test_the_epilog_waits_for_the_jobs_last_task_on_the_node(recorder, tmp_path):
    recorder.release.set()

    async def scenario(agent, key, sent):
        request = _request(key)
        start = {"type": "start", "job": 5, "rank": 0, "userid": os.geteuid(),
                 "command": ["sleep", "0.3"], "env": {}, "cwd": str(tmp_path),
                 "stdout": str(tmp_path / "out"), "stderr": str(tmp_path / "out"),
                 "kept": ["stdout", "stderr"], "truncate": True,
                 "tasks": [{"rank": 0, "cores": [0], "gpus": []}]}
        agent.handle(dict(start, token=key.launch_token(start)))
        agent.handle(dict(request, type="epilog"))
        await _until(lambda: any(message["type"] == "epilog-done" for message in sent))
        assert [message["type"] for message in sent] == ["started", "finished", "epilog-done"]

    _run(recorder, scenario)


def test_a_start_without_a_valid_launch_token_is_refused(recorder, tmp_path):
    marker = tmp_path / "ran"

    async def scenario(agent, key, sent):
        start = {"type": "start", "job": 6, "rank": 0, "userid": os.geteuid(),
                 "command": ["touch", str(marker)], "env": {}, "cwd": str(tmp_path),
                 "stdout": str(tmp_path / "out"), "stderr": str(tmp_path / "out"),
                 "kept": ["stdout", "stderr"], "truncate": True,
                 "tasks": [{"rank": 0, "cores": [0], "gpus": []}]}
        token = key.launch_token(start)
        agent.handle(dict(start, command=["rm", "-rf", str(tmp_path)], token=token))
        agent.handle(dict(start, job=7))
        await _until(lambda: sum(message["type"] == "finished" for message in sent) == 2)
        failures = [message for message in sent if message["type"] == "failed"]
        assert [message["job"] for message in failures] == [6, 7]
        assert all("invalid launch credential" in message["note"] for message in failures)

    _run(recorder, scenario)
    assert tmp_path.exists() and not marker.exists()


def test_a_start_is_refused_under_another_steps_number(recorder, tmp_path):
    async def scenario(agent, key, sent):
        start = {"type": "start", "job": 8, "step": 0, "rank": 0, "userid": os.geteuid(),
                 "command": ["touch", str(tmp_path / "ran")], "env": {},
                 "cwd": str(tmp_path), "stdout": str(tmp_path / "out"),
                 "stderr": str(tmp_path / "out"), "kept": ["stdout", "stderr"],
                 "truncate": True, "tasks": [{"rank": 0, "cores": [0], "gpus": []}]}
        step_token = key.launch_token(start)
        job_start = {name: value for name, value in start.items() if name != "step"}
        agent.handle(dict(start, step=1, token=step_token))
        agent.handle(dict(start, step=2, token=key.launch_token(job_start)))
        agent.handle(dict(job_start, job=9, token=key.launch_token(dict(start, job=9))))
        await _until(lambda: sum(message["type"] == "finished" for message in sent) == 3)
        failures = [(message["job"], message.get("step")) for message in sent
                    if message["type"] == "failed"]
        assert failures == [(8, 1), (8, 2), (9, None)]
        assert not (tmp_path / "ran").exists()
        agent.handle(dict(start, token=step_token))
        await _until(lambda: (tmp_path / "ran").exists())

    _run(recorder, scenario)
