"""Jobs move through every RFC 21 state with the events Flux would log."""

import json
import os
import signal
import time

import pytest

from corral import jobspec
from corral.client import RPCError
from support import alive

SIMULATED = "--setattr=exec.test.run_duration=0"


def names(client, job_id):
    return [event["name"] for event in client.eventlog(job_id)]


def context(client, job_id, name):
    return next(e.get("context", {}) for e in client.eventlog(job_id) if e["name"] == name)


def test_successful_job_logs_every_event_in_order(instance):
    job_id = instance.submit("true")
    event = instance.wait_inactive(job_id)
    assert event["name"] == "clean"
    with instance.client() as client:
        log = client.eventlog(job_id)
        job = client.job(job_id)
    assert [e["name"] for e in log] == [
        "submit", "validate", "depend", "priority", "alloc", "start", "finish", "release",
        "free", "clean",
    ]
    assert log[0]["context"] == {"userid": os.getuid(), "urgency": 16, "flags": 0, "version": 1}
    assert log[3]["context"] == {"priority": 16}
    assert log[6]["context"] == {"status": 0}
    assert log[7]["context"] == {"ranks": "0", "final": True}
    assert [e["timestamp"] for e in log] == sorted(e["timestamp"] for e in log)
    assert job["state_name"] == "INACTIVE" and job["result_name"] == "COMPLETED"


def test_exit_status_is_recorded_and_failed(instance):
    result = instance.corral("run", "sh", "-c", "exit 3", check=False)
    assert result.returncode == 3
    assert "exited with exit code 3" in result.stderr
    with instance.client() as client:
        job = client.jobs(states=64)[0]
        assert context(client, job["id"], "finish") == {"status": 3 << 8}
    assert job["result_name"] == "FAILED"


def test_alloc_annotation_summarises_resources(make_instance, tmp_path):
    config = tmp_path / "resources.toml"
    config.write_text('[[resource.config]]\nhosts = "node[0-1]"\ncores = "0-3"\ngpus = "0-1"\n')
    inst = make_instance(config=config)
    job_id = inst.submit("-N2", "-n4", "-c2", "-g1", SIMULATED, "true")
    inst.wait_inactive(job_id)
    with inst.client() as client:
        alloc = context(client, job_id, "alloc")
        R = client.job_info(job_id, "R")["R"]
    assert alloc == {"annotations": {"sched": {
        "resource_summary": "rank[0-1]/core[0-3],gpu[0-1]"}}}
    assert R["execution"]["R_lite"] == [
        {"rank": "0-1", "children": {"core": "0-3", "gpu": "0-1"}}]
    assert R["execution"]["nodelist"] == ["node[0-1]"]


def test_urgency_zero_holds_and_release_runs(instance):
    job_id = instance.submit("--urgency=hold", SIMULATED, "true")
    with instance.client() as client:
        client.wait_event(job_id, "priority", 10)
        time.sleep(0.2)
        job = client.job(job_id)
        assert job["state_name"] == "SCHED" and job["priority"] == 0
        assert "alloc" not in names(client, job_id)
        instance.corral("job", "urgency", job_id, "default")
        client.wait_event(job_id, "clean", 10)
        log = names(client, job_id)
    assert log[:6] == ["submit", "validate", "depend", "priority", "urgency", "priority"]
    assert log[-1] == "clean"


def test_expedite_gives_maximum_priority(instance):
    job_id = instance.submit("--urgency=expedite", SIMULATED, "true")
    instance.wait_inactive(job_id)
    with instance.client() as client:
        assert context(client, job_id, "priority") == {"priority": 2**32 - 1}


def test_queue_order_is_priority_then_id(instance):
    instance.corral("queue", "stop")
    low = instance.submit("--urgency=10", "true")
    first = instance.submit("--urgency=20", "true")
    second = instance.submit("--urgency=20", "true")
    with instance.client() as client:
        for job_id in (low, first, second):
            client.wait_event(job_id, "priority", 10)
        pending = [job["id"] for job in client.jobs(states=14)]
        assert pending == [first, second, low]
        instance.corral("queue", "start")
        for job_id in (low, first, second):
            client.wait_event(job_id, "clean", 10)
        starts = {j: context(client, j, "alloc") and
                  next(e["timestamp"] for e in client.eventlog(j) if e["name"] == "alloc")
                  for j in (low, first, second)}
    assert starts[first] < starts[second] < starts[low]


def test_cancel_pending_job(instance):
    instance.corral("queue", "stop")
    job_id = instance.submit("true")
    with instance.client() as client:
        client.wait_event(job_id, "priority", 10)
        instance.corral("cancel", "-m", "not needed", job_id)
        client.wait_event(job_id, "clean", 10)
        log = client.eventlog(job_id)
        job = client.job(job_id)
    assert [e["name"] for e in log][-2:] == ["exception", "clean"]
    exception = log[-2]["context"]
    assert exception["type"] == "cancel" and exception["severity"] == 0
    assert exception["note"] == "not needed" and exception["userid"] == os.getuid()
    assert job["result_name"] == "CANCELED"


def test_cancel_running_job_kills_its_tasks(instance, tmp_path):
    marker = tmp_path / "pid"
    job_id = instance.submit("sh", "-c", f"echo $$ > {marker}; exec sleep 60")
    with instance.client() as client:
        client.wait_event(job_id, "start", 10)
        while not marker.exists() or not marker.read_text().strip():
            time.sleep(0.02)
        pid = int(marker.read_text())
        instance.corral("cancel", job_id)
        client.wait_event(job_id, "clean", 10)
        log = client.eventlog(job_id)
        job = client.job(job_id)
    assert [e["name"] for e in log][-5:] == ["exception", "finish", "release", "free", "clean"]
    assert log[-4]["context"]["status"] == signal.SIGTERM
    assert not alive(pid)
    assert job["result_name"] == "CANCELED"



def test_time_limit_raises_timeout_then_sigterm(instance):
    start = time.monotonic()
    result = instance.corral("run", "-t", "0.5s", "sleep", "30", check=False)
    elapsed = time.monotonic() - start
    assert result.returncode == 128 + signal.SIGTERM
    assert "resource allocation expired" in result.stderr
    assert elapsed < 10
    with instance.client() as client:
        job = client.jobs(states=64)[0]
        exception = context(client, job["id"], "exception")
    assert exception["type"] == "timeout" and exception["severity"] == 0
    assert job["result_name"] == "TIMEOUT"


def test_time_limit_kills_with_sigkill_after_grace(make_instance, tmp_path):
    config = tmp_path / "exec.toml"
    config.write_text('[exec]\nkill-timeout = "0.3s"\n')
    inst = make_instance(config=config)
    script = "trap '' TERM; sleep 30 & wait; sleep 30"
    result = inst.corral("run", "-t", "0.3s", "sh", "-c", script, check=False)
    assert result.returncode == 128 + signal.SIGKILL


def test_tasks_get_environment_cwd_and_cores(make_instance, tmp_path):
    inst = make_instance(test_size=2)
    script = ('echo "$CORRAL_JOB_ID $CORRAL_TASK_RANK $CORRAL_JOB_SIZE $CORRAL_JOB_NODELIST '
              '$GREETING $(pwd)"; grep Cpus_allowed_list /proc/self/status')
    ncores = len(os.sched_getaffinity(0))
    result = inst.corral("run", "-N2", f"-n{2 * ncores}", "--env=GREETING=hello",
                         f"--cwd={tmp_path}", "sh", "-c", script)
    lines = result.stdout.splitlines()
    ids = sorted(line for line in lines if not line.startswith("Cpus"))
    cpus = sorted(line.split()[-1] for line in lines if line.startswith("Cpus"))
    job_id = ids[0].split()[0]
    assert ids == sorted(f"{job_id} {rank} {2 * ncores} node[0-1] hello {tmp_path}"
                         for rank in range(2 * ncores))
    assert cpus == sorted(str(core) for core in sorted(os.sched_getaffinity(0)) * 2)


def test_output_templates_and_attach_after_the_fact(instance, tmp_path):
    out = tmp_path / "out.{{id}}"
    err = tmp_path / "err.{{id}}"
    job_id = instance.submit(f"--output={out}", f"--error={err}", "sh", "-c",
                             "echo to-out; echo to-err >&2")
    instance.wait_inactive(job_id)
    assert (tmp_path / f"out.{job_id}").read_text() == "to-out\n"
    assert (tmp_path / f"err.{job_id}").read_text() == "to-err\n"
    kept = instance.submit("sh", "-c", "echo kept; echo kept-err >&2")
    instance.wait_inactive(kept)
    attached = instance.corral("job", "attach", kept)
    assert attached.stdout == "kept\n" and attached.stderr == "kept-err\n"


def test_attach_streams_output_live(instance):
    job_id = instance.submit("sh", "-c", "echo first; sleep 1; echo second")
    with instance.client() as client:
        client.wait_event(job_id, "start", 10)
        chunks = []
        started = time.monotonic()
        for _stream, data in client.output(job_id, watch=True):
            chunks.append((round(time.monotonic() - started, 1), data))
    assert "".join(data for _, data in chunks) == "first\nsecond\n"
    assert chunks[0][0] < 0.8


def test_output_says_where_each_chunk_ends_and_starts_at_the_offsets_asked(instance):
    job_id = instance.submit("printf", "caf\\303\\251 ok\\n")  # "café ok": é is 2 bytes
    instance.wait_inactive(job_id)
    with instance.client() as client:
        [chunk] = client.output_chunks(job_id)
        assert chunk == {"stream": "stdout", "data": "café ok\n", "end": 9}
        # From byte 5, just after é.
        rest = list(client.output_chunks(job_id, offsets={"stdout": 5}))
        assert [c["data"] for c in rest] == [" ok\n"] and rest[-1]["end"] == 9
        assert list(client.output_chunks(job_id, offsets={"stdout": 9})) == []
        with pytest.raises(RPCError) as refused:
            list(client.output_chunks(job_id, offsets={"stdout": -1}))
    assert refused.value.strerror == "offsets must map streams to byte offsets"


def test_command_not_found_is_an_exec_exception_said_once(instance, tmp_path):
    # Flux's exit codes: 127 for a command not found, 126 for one that cannot be run.
    result = instance.corral("run", "no-such-command-xyz", check=False)
    assert result.returncode == 127
    # The job's stderr says it; corral run does not say it again.
    [line] = result.stderr.splitlines()
    assert line.endswith("start failed: no-such-command-xyz: No such file or directory")
    with instance.client() as client:
        job = client.jobs(states=64)[0]
        exception = context(client, job["id"], "exception")
        names = [event["name"] for event in client.eventlog(job["id"])]
        finish = context(client, job["id"], "finish")
    assert exception["type"] == "exec"
    assert "no-such-command-xyz" in exception["note"]
    assert names[names.index("start"):names.index("finish") + 1] == [
        "start", "exception", "finish"]
    assert finish["status"] == 127 << 8
    assert instance.corral("run", str(tmp_path), check=False).returncode == 126


def test_burst_of_500_jobs_all_complete(make_instance, tmp_path):
    config = tmp_path / "big.toml"
    config.write_text('[[resource.config]]\nhosts = "node[0-3]"\ncores = "0-63"\n')
    inst = make_instance(config=config)
    from corral import jobspec

    spec = jobspec.build(["true"], setattr=["exec.test.run_duration=0.01"], duration=0)
    with inst.client() as client:
        ids = client.submit_many([spec] * 500)
        assert ids == list(range(ids[0], ids[0] + 500))
        client.rpc("job-manager.queue-drain")
        for job_id in ids:
            log = client.eventlog(job_id)
            assert [e["name"] for e in log] == [
                "submit", "validate", "depend", "priority", "alloc", "start", "finish",
                "release", "free", "clean"]
        assert len(client.jobs(states=64)) == 500


def test_eventlog_json_format_is_rfc18(instance):
    job_id = instance.submit(SIMULATED, "true")
    instance.wait_inactive(job_id)
    lines = instance.corral("job", "eventlog", "--format=json", job_id).stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["name"] for e in events][0] == "submit"
    assert all(set(e) <= {"timestamp", "name", "context"} for e in events)
    text = instance.corral("job", "eventlog", job_id).stdout.splitlines()
    assert text[0].split()[1:] == ["submit", f"userid={os.getuid()}", "urgency=16", "flags=0",
                                   "version=1"]


def test_memo_is_an_event_and_a_user_annotation(instance):
    instance.corral("queue", "stop")
    job_id = instance.submit("true")
    instance.corral("job", "memo", job_id, "note=checked", "count=3")
    instance.corral("job", "memo", job_id, "count=null")
    with instance.client() as client:
        client.wait_event(job_id, "memo", 10)
        memos = [e["context"] for e in client.eventlog(job_id) if e["name"] == "memo"]
        job = client.job(job_id)
    assert memos == [{"note": "checked", "count": 3}, {"count": None}]
    assert job["annotations"]["user"] == {"note": "checked"}
    result = instance.corral("job", "memo", job_id, "novalue", check=False)
    assert result.stderr.strip() == "corral job memo: 'novalue' is not KEY=VALUE"


def test_a_memo_given_at_submit_is_the_first_event_after_submit(instance):
    spec = jobspec.build(["false"])
    with instance.client() as client:
        job_id = client.submit(spec, memo={"origin": "api"})
        instance.wait_inactive(job_id)
        names = [e["name"] for e in client.eventlog(job_id)]
        assert names[:3] == ["submit", "memo", "validate"]
        assert client.job(job_id)["annotations"]["user"] == {"origin": "api"}
        ids = client.submit_many([spec, spec], memos=[{"n": 1}, None])
        assert [client.job(i).get("annotations", {}).get("user") for i in ids] == \
            [{"n": 1}, None]
        with pytest.raises(RPCError, match="memo needs a non-empty 'memo' object"):
            client.submit(spec, memo={})
        with pytest.raises(RPCError, match="memo is over the .* character limit"):
            client.submit(spec, memo={"big": "x" * 100_000})


def test_updated_duration_of_a_running_job_moves_its_time_limit(instance):
    job_id = instance.submit("-t", "1h", "sleep", "60")
    with instance.client() as client:
        client.wait_event(job_id, "start", 10)
        instance.corral("job", "update", job_id, "duration=1s")
        client.wait_event(job_id, "resource-update", 10)
        exception = client.wait_event(job_id, "exception", 10)["context"]
        client.wait_event(job_id, "clean", 20)
        job = client.job(job_id)
    assert exception["type"] == "timeout" and exception["note"] == "resource allocation expired"
    assert job["result_name"] == "TIMEOUT"


def test_updated_expiration_is_kept_in_the_stored_R(instance):
    job_id = instance.submit("-t", "1h", "sleep", "60")
    with instance.client() as client:
        client.wait_event(job_id, "start", 10)
        before = client.job_info(job_id, "R")["R"]["execution"]
        instance.corral("job", "update", job_id, "duration=30m")
        update = client.wait_event(job_id, "resource-update", 10)["context"]
        client.cancel(job_id)
        client.wait_event(job_id, "clean", 20)
    instance.restart()
    with instance.client() as client:
        after = client.job_info(job_id, "R")["R"]["execution"]
    assert update["expiration"] == before["starttime"] + 1800
    assert after["expiration"] == update["expiration"] != before["expiration"]


def test_output_files_exist_only_for_jobs_that_print(instance):
    silent = instance.submit("true")
    chatty = instance.submit("sh", "-c", "echo out; echo err >&2")
    for job_id in (silent, chatty):
        instance.wait_inactive(job_id)
    output_dir = os.path.join(instance.state_dir, "output")
    assert sorted(os.listdir(output_dir)) == [f"{chatty}.err", f"{chatty}.out"]
    assert instance.corral("job", "attach", silent).stdout == ""


def test_output_written_just_before_exit_and_by_many_tasks_is_complete(instance):
    script = "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done"
    job_id = instance.submit("-n2", "sh", "-c", script)
    instance.wait_inactive(job_id)
    lines = instance.corral("job", "attach", job_id).stdout.splitlines()
    assert sorted(lines) == sorted(f"line{i}" for i in range(2000) for _ in range(2))


def test_a_requeued_job_keeps_only_its_last_runs_output(make_instance, tmp_path):
    config = tmp_path / "requeue.toml"
    config.write_text('[prep]\nrequeue-delay = "0.1s"\n')
    inst = make_instance(config=config)
    runs = tmp_path / "runs"
    script = f'echo run >> {runs}; echo "run $(wc -l < {runs})"; sleep 30'
    job_id = inst.submit("sh", "-c", script)
    with inst.client() as client:
        client.wait_event(job_id, "start", 10)
        while not runs.exists():
            time.sleep(0.02)
        inst.corral("job", "requeue", job_id)
        client.wait_event(job_id, "requeue", 20)
        while len(runs.read_text().splitlines()) < 2:
            time.sleep(0.05)
        time.sleep(0.2)
        output = "".join(data for _stream, data in client.output(job_id))
        client.cancel(job_id)
    assert output == "run 2\n"


def test_an_updated_jobspec_is_what_info_shows_even_after_restart(instance):
    instance.corral("queue", "stop")
    job_id = instance.submit("--env=-*", "--env=KEEP=1", "-t", "1h", "true")
    instance.client().wait_event(job_id, "priority", 10)
    instance.corral("job", "update", job_id, "duration=30m")
    instance.corral("queue", "start")
    instance.wait_inactive(job_id)
    instance.restart()
    spec = json.loads(instance.corral("job", "info", job_id, "jobspec").stdout)
    assert spec["attributes"]["system"]["duration"] == 1800
    assert spec["attributes"]["system"]["environment"] == {"KEEP": "1"}
