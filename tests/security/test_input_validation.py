"""Input an unprivileged user sends is refused at the door in one sentence, and what gets in
can be started: the instance stays up, the other jobs run, no node is drained.

Attacks a guest can make are made by the guest user (`as_guest`), through the socket with
frames built by hand where the client would refuse to build them.
"""

import json
import os
import socket
import struct
import subprocess
import sys
import threading

import pytest

from corral import jobspec
from corral.client import Client, RPCError
from corral.limits import MAX_ERROR_TEXT, MAX_REQUEST_FRAME
from corral.prep import driver
from corral.prep.run import UnusableJobInput, run_script
from corral.states import State
from support import as_guest, names, raw_exchange, wait

SIMULATED = ["exec.test.run_duration=0"]


def spec(command=("true",), count=None, **system) -> dict:
    """A jobspec as a guest could write it by hand (no client-side checks)."""
    return {"resources": [{"type": "slot", "count": 1, "label": "task",
                           "with": [{"type": "core", "count": 1}]}],
            "tasks": [{"command": list(command), "slot": "task",
                       "count": count or {"per_slot": 1}}],
            "attributes": {"system": {"duration": 0, **system}}, "version": 1}


def frame(topic: str, payload, matchtag: int = 7) -> bytes:
    """A request frame body; ``json.dumps`` escapes NULs and lone surrogates as JSON may."""
    return json.dumps({"matchtag": matchtag, "topic": topic, "payload": payload}).encode()


def submit_frame(*specs: dict) -> bytes:
    return frame("job-manager.submit", {"jobs": [{"jobspec": one} for one in specs]})


def one_line(text: str) -> bool:
    return bool(text) and "\n" not in text and "Traceback" not in text


def test_guest_lone_surrogates_in_submit_memo_and_note_are_refused_and_jobs_keep_running(
        guest_instance):
    instance = guest_instance()
    with instance.client() as client:
        running = client.submit(jobspec.build(["sleep", "30"]))
        client.wait_event(running, "start", 20)

    def attack(client):
        own = client.submit(jobspec.build(["true"], setattr=["exec.test.run_duration=30"]))
        client.wait_event(own, "start", 20)
        answers = [
            raw_exchange(client, submit_frame(spec(["true\ud800"]))),
            raw_exchange(client, frame("job-manager.memo", {"id": own, "memo": {"k": "\udfff"}},
                                       8)),
            raw_exchange(client, frame("job-manager.raise", {"id": own, "type": "cancel",
                                                             "severity": 0, "note": "x\ud800y"},
                                       9)),
        ]
        client.cancel(own)
        return own, answers

    own, answers = as_guest(instance.uri, attack)
    assert [answer["matchtag"] for answer in answers] == [7, 8, 9]
    for answer in answers:
        assert "lone UTF-16 surrogate" in answer["errstr"] and one_line(answer["errstr"])
    assert "request.payload.jobs[0].jobspec.tasks[0].command[0]" in answers[0]["errstr"]
    with instance.client() as client:
        wait(client, own)
        assert client.job(running)["state"] == State.RUN
        client.cancel(running)
        wait(client, running)
    assert instance.process.poll() is None


@pytest.mark.parametrize("system, where", [
    ({"environment": {"A=B": "x"}}, "environment"),
    ({"environment": {"": "x"}}, "environment"),
    ({"exec": {"test": {"run_duration": "abc"}}}, "run_duration"),
    ({"exec": {"test": {"run_duration": "inf"}}}, "run_duration"),
    ({"exec": "fast"}, "attributes.system.exec"),
    ({"cwd": "/" + "d" * 5000}, "cwd"),
    ({"shell": {"options": {"output": {"stdout": {"type": "file", "path": "o" * 5000}}}}},
     "stdout.path"),
    ({"environment": {"SPANK_X": "v" * 140000}}, "SPANK_X"),
    ({"environment": {f"V{index}": "v" * 100000 for index in range(11)}}, "environment"),
    ({"job": {"name": "n" * 5000}}, "job.name"),
    ({"queue": "q" * 5000}, "queue"),
])
def test_guest_input_that_exec_cannot_start_is_refused_at_submit(guest_instance, system,
                                                                 where):
    instance = guest_instance()
    answer = as_guest(instance.uri,
                      lambda client: raw_exchange(client, submit_frame(spec(**system))))
    result = answer.get("payload", {}).get("jobs", [answer])[0]
    assert "id" not in result, result
    assert where in result["errstr"] and one_line(result["errstr"])
    assert len(result["errstr"]) <= MAX_ERROR_TEXT
    with instance.client() as client:
        assert client.jobs() == []


@pytest.mark.parametrize("job", [
    spec(["tr\0ue"]), spec(cwd="/tmp\0x"), spec(environment={"A\0": "x"}),
    spec(shell={"options": {"output": {"stdout": {"type": "file", "path": "out\0"}}}}),
])
def test_guest_nul_in_command_cwd_environment_or_path_is_refused(guest_instance, job):
    instance = guest_instance()
    answer = as_guest(instance.uri, lambda client: raw_exchange(client, submit_frame(job)))
    assert answer["errnum"] and "NUL" in answer["errstr"] and one_line(answer["errstr"])


def test_client_splits_a_submit_batch_over_the_frame_limit(instance):
    """300 jobs of 30 KB each (9 MB) are more than one request may carry."""
    spec = jobspec.build(["true"], setattr=SIMULATED,
                         environment={f"V{index}": "v" * 1000 for index in range(30)})
    with instance.client() as client:
        ids = client.submit_many([spec] * 300)
        assert all(isinstance(job_id, int) for job_id in ids) and len(set(ids)) == 300
        wait(client, ids[-1])


def test_bad_simulated_duration_in_a_batch_refuses_that_job_and_the_others_run(instance):
    """The batch used to hang, all 8 jobs, on the one bad ``system.exec``."""
    good = spec(exec={"test": {"run_duration": 0}})
    bad = spec(exec={"test": {"run_duration": "abc"}})
    with instance.client() as client:
        answer = raw_exchange(client, submit_frame(good, good, good, bad, good, good, good,
                                                   good))
        results = answer["payload"]["jobs"]
        assert "run_duration" in results[3]["errstr"]
        ids = [result["id"] for index, result in enumerate(results) if index != 3]
        for job_id in ids:
            wait(client, job_id)
            assert client.job(job_id)["result_name"] == "COMPLETED"


def test_a_job_whose_start_raises_fails_alone_and_frees_its_cores(make_instance, tmp_path):
    """A plugin corrupts a stored jobspec after validation: exec cannot start the job, which
    ends with an ``exec`` exception instead of sitting in RUN; the jobs of its batch run."""
    plugin = tmp_path / "corrupt.py"
    plugin.write_text(
        "def run(p, topic, args):\n"
        "    spec = args['jobspec']\n"
        "    if spec['tasks'][0]['command'][0] == 'corrupt':\n"
        "        spec['attributes']['system']['exec'] = {'test': {'run_duration': 'abc'}}\n"
        "\n"
        "def plugin_init(p):\n"
        "    p.add_handler('job.state.run', run)\n")
    instance = make_instance(test_size=1)
    instance.corral("jobtap", "load", str(plugin))
    with instance.client() as client:
        specs = [jobspec.build([command], setattr=SIMULATED)
                 for command in ("true", "corrupt", "true", "true")]
        ids = client.submit_many(specs)
        for job_id in ids:
            wait(client, job_id)
        exception = [event for event in client.eventlog(ids[1])
                     if event["name"] == "exception"][0]["context"]
        assert exception["type"] == "exec" and "start failed" in exception["note"]
        assert [client.job(job_id)["result_name"] for job_id in ids] == [
            "COMPLETED", "FAILED", "COMPLETED", "COMPLETED"]
        assert names(client, ids[1])[-1] == "clean"


def test_guest_task_count_of_two_to_the_forty_is_refused(guest_instance):
    instance = guest_instance()
    answer = as_guest(instance.uri, lambda client: raw_exchange(
        client, submit_frame(spec(count={"per_slot": 2**40}))))
    error = answer["payload"]["jobs"][0]["errstr"]
    assert "tasks[0].count.per_slot: must be at most 1048576" in error
    many = as_guest(instance.uri, lambda client: raw_exchange(
        client, submit_frame(spec(count={"per_slot": 2**20}))))
    assert "asks for 1048576 tasks in all, over the limit of 65536" in \
        many["payload"]["jobs"][0]["errstr"]
    assert instance.process.poll() is None


def test_guest_oversized_frame_is_skipped_and_refused_and_the_connection_still_serves(
        guest_instance):
    instance = guest_instance()

    def attack(client):
        body = b'{"matchtag": 3, "topic": "job-list.list", "payload": "' + \
            b"x" * (MAX_REQUEST_FRAME + 1) + b'"}'
        refused = raw_exchange(client, body)
        return refused, client.rpc("job-list.list", {})

    refused, answer = as_guest(instance.uri, attack)
    assert refused["matchtag"] == 3 and "exceeds the 4194304 byte limit" in refused["errstr"]
    assert answer == {"jobs": []}


def test_guest_frame_of_200_mib_is_not_buffered_by_the_controller(guest_instance):
    instance = guest_instance()
    size = 200 * 1024 * 1024

    def rss_kib() -> int:
        with open(f"/proc/{instance.process.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))

    before = rss_kib()

    def attack(client):
        head = b'{"matchtag": 11, "topic": "job-list.list", "payload": "'
        client.sock.sendall(struct.pack(">I", size) + head)
        chunk = b"x" * (1024 * 1024)
        for _ in range(size // len(chunk) - 1):
            client.sock.sendall(chunk)
        rest = size - len(head) - (size // len(chunk) - 1) * len(chunk) - 2
        return raw_exchange(client, b"x" * rest + b'"}', header=b"")

    refused = as_guest(instance.uri, attack)
    assert refused["matchtag"] == 11 and "exceeds the 4194304 byte limit" in refused["errstr"]
    assert rss_kib() - before < 32 * 1024
    assert instance.process.poll() is None


@pytest.mark.parametrize("body, text", [
    (b"\xff\xfe", "not UTF-8"),
    (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    (b"1" * 5000, "not valid JSON"),
    (b'{"matchtag": 6, "topic": "broker.cancel", "payload": 5}', None),
], ids=["not-utf8", "deep", "long-integer", "cancel-payload"])
def test_guest_malformed_frames_get_an_error_and_the_connection_stays_open(
        guest_instance, body, text):
    instance = guest_instance()

    def attack(client):
        if text is None:
            client.sock.sendall(struct.pack(">I", len(body)) + body)
            return None, client.rpc("job-list.list", {})
        return raw_exchange(client, body), client.rpc("job-list.list", {})

    answer, listing = as_guest(instance.uri, attack)
    if text is not None:
        assert answer["errnum"] and text in answer["errstr"] and one_line(answer["errstr"])
    assert listing == {"jobs": []}


def test_deep_nesting_in_a_jobspec_memo_or_update_is_refused(guest_instance):
    instance = guest_instance()
    deep = []
    for _ in range(40):
        deep = [deep]

    def attack(client):
        submitted = raw_exchange(client, submit_frame(spec(x=deep)))
        user = spec()
        user["attributes"]["user"] = {"deep": deep}
        in_user = raw_exchange(client, submit_frame(user))
        job_id = client.submit(jobspec.build(["true"], setattr=["exec.test.run_duration=30"]))
        memo = raw_exchange(client, frame("job-manager.memo", {"id": job_id, "memo": {"k": deep}}))
        update = raw_exchange(client, frame("job-manager.update", {
            "id": job_id, "updates": {"attributes.user.deep": deep}}))
        client.cancel(job_id)
        return submitted, in_user, memo, update

    submitted, in_user, memo, update = as_guest(instance.uri, attack)
    assert "more than 32 levels deep" in submitted["payload"]["jobs"][0]["errstr"]
    assert "attributes.user" in in_user["payload"]["jobs"][0]["errstr"]
    assert "more than 32 levels deep" in memo["errstr"]
    assert update["errnum"] and "internal error" not in update["errstr"]


def test_guest_memo_over_the_limit_is_refused(guest_instance):
    instance = guest_instance()

    def attack(client):
        job_id = client.submit(jobspec.build(["true"], setattr=["exec.test.run_duration=30"]))
        memo = raw_exchange(client, frame("job-manager.memo", {"id": job_id,
                                                               "memo": {"k": "v" * 70000}}))
        client.cancel(job_id)
        return memo

    assert "memo is over the 65536 character limit" in as_guest(instance.uri, attack)["errstr"]


def test_error_texts_that_quote_input_are_cut(guest_instance):
    instance = guest_instance()
    job = spec()
    job["attributes"]["k" * 100000] = 1
    answer = as_guest(instance.uri, lambda client: raw_exchange(client, submit_frame(job)))
    errors = answer["payload"]["jobs"][0]["errstr"]
    assert errors.startswith("jobspec: attributes.kkk") and len(errors) <= MAX_ERROR_TEXT


def test_raiseall_checks_the_types_of_its_arguments(instance):
    with instance.client() as client:
        job_id = client.submit(jobspec.build(["true"], setattr=["exec.test.run_duration=30"]))
        client.wait_event(job_id, "start", 20)
        for key, value in (("states", "RUN"), ("userid", "root"), ("dry_run", 1),
                           ("states", True), ("note", 5)):
            payload = {"type": "cancel", "severity": 0, key: value}
            with pytest.raises(RPCError) as refused:
                client.rpc("job-manager.raiseall", payload)
            assert key in refused.value.strerror and one_line(refused.value.strerror)
        assert client.job(job_id)["state"] == State.RUN
        client.cancel(job_id)
        wait(client, job_id)


@pytest.mark.parametrize("arguments", [
    [b"submit", b"\xff"],
    [b"submit", b"--job-name", b"n\xffx", b"true"],
    [b"submit", b"--env", b"A=\xff", b"true"],
    [b"submit", b"-S", b"exec.test.run_duration=abc", b"true"],
    [b"job", b"memo", b"1", b"k\xff=1"],
    [b"rpc", b"x\xff"],
])
def test_cli_arguments_that_are_not_utf8_get_one_line(instance, arguments):
    result = subprocess.run([sys.executable.encode(), b"-m", b"corral", *arguments],
                            env=instance.env(), capture_output=True, timeout=60)
    assert result.returncode == 1
    error = result.stderr.decode(errors="replace").strip()
    assert one_line(error) and error.startswith("corral ")


def test_client_reports_a_reply_that_is_not_utf8_in_one_line(tmp_path):
    path = str(tmp_path / "fake.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen()

    def answer_badly():
        connection, _ = server.accept()
        connection.recv(4096)
        connection.sendall(struct.pack(">I", 3) + b"\xff\xfe\xfd")
        connection.recv(4096)
        connection.close()

    thread = threading.Thread(target=answer_badly)
    thread.start()
    try:
        with Client(f"local://{path}") as client, pytest.raises(RPCError) as refused:
            client.rpc("job-list.list", {})
        assert "malformed reply" in refused.value.strerror
    finally:
        thread.join(10)
        server.close()


def test_guest_spank_variables_that_would_drain_nodes_are_refused_and_no_node_drains(
        guest_instance, tmp_path):
    shared = tmp_path / "prolog"
    shared.write_text("#!/bin/sh\nexit 0\n")
    shared.chmod(0o755)
    os.chmod(tmp_path, 0o755)
    instance = guest_instance(f'[prep]\nplugins = ["prep/script"]\nprolog = "{shared}"\n')
    bad = [{"SPANK_A=B": "x"}, {"SPANK_X": "v" * 140000}]

    def attack(client):
        refused = [raw_exchange(client, submit_frame(spec(environment=env))) for env in bad]
        job_id = client.submit(jobspec.build(["true"], cwd="/tmp", environment={"SPANK_OK": "1"}))
        return refused, job_id

    refused, job_id = as_guest(instance.uri, attack)
    for answer in refused:
        assert "errstr" in answer["payload"]["jobs"][0]
    with instance.client() as client:
        wait(client, job_id)
        assert client.job(job_id)["result_name"] == "COMPLETED"
        assert not [node for node in client.rpc("resource.list")["nodes"] if node["drained"]]


@pytest.mark.parametrize("env", [
    {"SPANK_A=B": "x"}, {"SPANK_A": "a\0b"}, {"SPANK_X": "v" * 140000},
    {f"SPANK_{index}": "v" * 100000 for index in range(100)},
])
def test_a_node_prolog_that_cannot_start_with_the_jobs_environment_blames_the_job(
        tmp_path, env):
    """What reaches a script despite submit's checks (a job stored before them) raises
    `UnusableJobInput`, which the node hook chain passes on: the agent answers with an error,
    which fails the job and drains nothing, instead of a failed prolog status."""
    script = tmp_path / "prolog"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)

    class Plugin:
        def prep_p_prolog(self, job_env, cred):
            return run_script(str(script), env, None, "prolog", 1).status

    class Loaded:
        name = "prep/test"
        target = Plugin()

    with pytest.raises(UnusableJobInput) as refused:
        driver.call_node_hooks([Loaded()], "prep_p_prolog", None, None)
    assert "prolog cannot be started with this job's environment" in str(refused.value)
    assert run_script(str(script), {"SPANK_OK": "1"}, None, "prolog", 1).status == 0


def test_an_after_commit_callback_that_raises_does_not_stop_the_others(tmp_path):
    """A start, a submit answer and a held job each wait in an after-commit callback: one
    that raises must not leave those queued after it waiting for ever."""
    import asyncio

    from corral.store.sqlite import Store

    async def commit_with_a_failing_callback():
        store = Store(str(tmp_path / "corral.db"), asyncio.get_running_loop())
        ran = []
        store.kv_set("next_id", 2)
        store.after_commit(lambda: ran.append("first"))
        store.after_commit(lambda: int("abc"))
        store.after_commit(lambda: ran.append("third"))
        await asyncio.wait_for(store.flush(), 10)
        store.close()
        return ran

    assert asyncio.run(commit_with_a_failing_callback()) == ["first", "third"]
