"""The CLI: submit options and jobspec files, listings, eventlog forms, queues, drain, rpc."""

import json
import os

import yaml

SIMULATED = "--setattr=exec.test.run_duration=0"


def test_jobspec_file_yaml_and_json(instance, tmp_path):
    from corral import jobspec

    spec = jobspec.build(["echo", "from-file"], cwd=str(tmp_path))
    yaml_file = tmp_path / "job.yaml"
    yaml_file.write_text(yaml.safe_dump(spec))
    json_file = tmp_path / "job.json"
    json_file.write_text(json.dumps(spec))
    for path in (yaml_file, json_file):
        job_id = instance.submit(f"--jobspec={path}")
        instance.wait_inactive(job_id)
        assert instance.corral("job", "attach", job_id).stdout == "from-file\n"


def test_invalid_jobspec_is_refused_with_its_location(instance, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 2, "resources": [], "tasks": [], "attributes": {}}))
    result = instance.corral("submit", f"--jobspec={bad}", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "corral submit: jobspec: version: must be 1, got 2"
    assert instance.client().jobs(states=127) == []


def test_options_that_a_jobspec_file_would_replace_are_refused(instance, tmp_path):
    from corral import jobspec

    path = tmp_path / "job.json"
    path.write_text(json.dumps(jobspec.build(["true"], cwd=str(tmp_path))))
    for command in ("submit", "run"):
        result = instance.corral(command, f"--jobspec={path}", "-n2", "-t", "5m", "--",
                                 "echo", "hi", check=False)
        assert (result.returncode, result.stdout, result.stderr) == (
            1, "", f"corral {command}: --ntasks, --time-limit, COMMAND: not with "
                   "--jobspec=FILE, which is the whole job\n")
    assert instance.client().jobs(states=127) == []
    job_id = instance.submit(f"--jobspec={path}", "--urgency=hold", "--flags=waitable", "--")
    assert instance.client().jobs(states=127)[0]["id"] == job_id


def test_invalid_jobspec_sent_directly_is_refused_by_the_controller(instance):
    with instance.client() as client:
        answer = client.rpc("job-manager.submit", {"jobs": [{"jobspec": {"version": 1}}]})
        assert answer["jobs"][0]["errnum"] == 22
        assert answer["jobs"][0]["errstr"].startswith("jobspec: ")
        assert client.jobs(states=127) == []


def test_cc_submits_one_copy_per_id_in_order(instance):
    result = instance.corral("submit", "--cc=1-5", SIMULATED, "sh", "-c", "echo $CORRAL_JOB_CC")
    ids = [int(line) for line in result.stdout.split()]
    assert ids == list(range(ids[0], ids[0] + 5))


def test_cc_without_ids_is_refused_and_submits_nothing(instance):
    result = instance.corral("submit", "--cc=", "true", check=False)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "corral submit: --cc: no ids given (e.g. --cc=1-10)\n"
    with instance.client() as client:
        assert client.jobs(states=127) == []


def test_ids_are_in_submission_order(instance):
    ids = [instance.submit(SIMULATED, "true") for _ in range(3)]
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]


def test_jobs_listing_format_filter_and_json(instance):
    done = instance.submit("--job-name=first", SIMULATED, "true")
    instance.wait_inactive(done)
    instance.corral("queue", "stop")
    waiting = instance.submit("--job-name=second", "-n1", "true")
    instance.client().wait_event(waiting, "priority", 10)
    active = instance.corral("jobs", "-n", "-o", "{id} {name} {status_abbrev}").stdout
    assert active.splitlines() == [f"{waiting} second S"]
    everything = instance.corral("jobs", "-a", "-o", "{id} {name} {result}").stdout.splitlines()
    assert everything == ["JOBID NAME RESULT", f"{waiting} second", f"{done} first COMPLETED"]
    completed = instance.corral("jobs", "-n", "-f", "completed", "-o", "{id}").stdout
    assert completed.split() == [str(done)]
    lines = instance.corral("jobs", "-a", "--json").stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [waiting, done]


def test_job_info_keys(instance):
    job_id = instance.submit("--env=-*", "--env=ONLY=1", SIMULATED, "true")
    instance.wait_inactive(job_id)
    spec = json.loads(instance.corral("job", "info", job_id, "jobspec").stdout)
    assert spec["attributes"]["system"]["environment"] == {"ONLY": "1"}
    R = json.loads(instance.corral("job", "info", job_id, "R").stdout)
    assert R["version"] == 1 and R["execution"]["R_lite"][0]["rank"] == "0"
    log = instance.corral("job", "info", job_id, "eventlog").stdout.splitlines()
    assert json.loads(log[-1])["name"] == "clean"


def test_wait_event_and_its_timeout(instance):
    job_id = instance.submit(SIMULATED, "true")
    out = instance.corral("job", "wait-event", job_id, "clean").stdout
    assert out.split()[1] == "clean"
    instance.corral("queue", "stop")
    held = instance.submit("true")
    result = instance.corral("job", "wait-event", "--timeout=0.2", held, "start", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"corral job wait-event: timed out waiting for event 'start' on job {held}")


def test_job_wait_reports_failure(instance):
    good = instance.submit(SIMULATED, "true")
    bad = instance.submit("false")
    assert instance.corral("job", "wait", good).returncode == 0
    result = instance.corral("job", "wait", bad, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == f"corral job wait: {bad}: task(s) exited with exit code 1"


def test_queue_disable_refuses_submissions_with_reason(instance):
    instance.corral("queue", "disable", "maintenance", "window")
    result = instance.corral("submit", "true", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "corral submit: job submission to the queue is disabled: maintenance window")
    status = instance.corral("queue", "status").stdout.splitlines()
    assert status == ["Job submission is disabled (maintenance window)", "Scheduling is started"]
    instance.corral("queue", "enable")
    instance.corral("submit", SIMULATED, "true")


def test_queue_drain_and_idle_wait(instance):
    job_id = instance.submit("sleep", "0.3")
    instance.corral("queue", "idle")
    instance.corral("queue", "drain")
    assert instance.client().job(job_id)["state_name"] == "INACTIVE"


def test_drained_node_takes_no_new_jobs(make_instance):
    inst = make_instance(test_size=2)
    inst.corral("resource", "drain", "node0", "bad", "fan")
    listing = inst.corral("resource", "list").stdout.splitlines()
    assert listing[1].split()[:3] == ["0", "node0", "drained"]
    assert "bad fan" in listing[1]
    ncores = len(os.sched_getaffinity(0))
    job_id = inst.submit(f"-n{ncores}", SIMULATED, "true")
    inst.wait_inactive(job_id)
    R = inst.client().job_info(job_id, "R")["R"]
    assert R["execution"]["nodelist"] == ["node1"]
    inst.corral("resource", "undrain", "node0")
    result = inst.corral("resource", "undrain", "node0", check=False)
    assert result.stderr.strip() == "corral resource undrain: node0: not drained"


def test_rpc_prints_answers_and_errors(instance):
    info = json.loads(instance.corral("rpc", "instance.info").stdout)
    assert info["uri"] == instance.uri
    result = instance.corral("rpc", "no.such.service", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "corral rpc: no service matches topic no.such.service"
    result = instance.corral("rpc", "job-manager.raise", "[1]", check=False)
    assert result.stderr.strip() == "corral rpc: job-manager.raise: payload must be a JSON object"


def test_bad_frames_do_not_hurt_the_controller(instance):
    import socket
    import struct

    path = instance.uri[len("local://"):]
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        body = b"{not json"
        sock.sendall(struct.pack(">I", len(body)) + body)
        length = struct.unpack(">I", sock.recv(4))[0]
        answer = json.loads(sock.recv(length))
        assert answer["errnum"] == 71 and "not valid JSON" in answer["errstr"]
        sock.sendall(struct.pack(">I", 0xFFFFFFF0))
    assert instance.corral("jobs").returncode == 0


def test_named_queues_default_queue_and_states_survive_restart(make_instance, tmp_path):
    config = tmp_path / "queues.toml"
    config.write_text('[queues.batch]\n[queues.debug]\n'
                      '[policy.jobspec.defaults.system]\nqueue = "batch"\n')
    inst = make_instance(config=config)
    job_id = inst.submit(SIMULATED, "true")
    inst.wait_inactive(job_id)
    spec = json.loads(inst.corral("job", "info", job_id, "jobspec").stdout)
    assert spec["attributes"]["system"]["queue"] == "batch"
    result = inst.corral("submit", "--queue=nope", "true", check=False)
    assert result.stderr.strip() == "corral submit: invalid queue 'nope' specified"
    inst.corral("queue", "stop", "-q", "debug", "testing")
    inst.corral("queue", "disable", "-q", "batch", "closed")
    inst.restart()
    status = inst.corral("queue", "status").stdout.splitlines()
    assert status == [
        "batch: Job submission is disabled (closed)", "batch: Scheduling is started",
        "debug: Job submission is enabled", "debug: Scheduling is stopped (testing)",
    ]


def test_purge_removes_inactive_jobs_and_tells_plugins(make_instance, tmp_path):
    plugin = tmp_path / "removed.py"
    plugin.write_text(
        "def removed(p, topic, args):\n"
        "    p.get_flux().log(3, 'removed %d', args['id'])\n"
        "def plugin_init(p):\n"
        "    p.add_handler('job.inactive-remove', removed)\n")
    config = tmp_path / "purge.toml"
    config.write_text(f'[job-manager]\nplugins = [{{ load = "{plugin}" }}]\n')
    inst = make_instance(config=config)
    ids = [inst.submit(SIMULATED, "true") for _ in range(4)]
    for job_id in ids:
        inst.wait_inactive(job_id)
    assert inst.corral("job", "purge", "--num-limit=1").stdout == (
        "would purge (use --force) 3 jobs\n")
    assert inst.corral("job", "purge", "--num-limit=1", "--force").stdout == "purged 3 jobs\n"
    assert [job["id"] for job in inst.client().jobs(states=64)] == [ids[-1]]
    assert f"removed {ids[0]}" in inst.dmesg()
    result = inst.corral("job", "eventlog", ids[0], check=False)
    assert result.stderr.strip() == f"corral job eventlog: unknown job id {ids[0]}"
    inst.restart()
    assert [job["id"] for job in inst.client().jobs(states=64)] == [ids[-1]]
    assert inst.submit(SIMULATED, "true") == ids[-1] + 1
