"""Commands that wait for jobs never wait silently: ``corral run``, ``corral job attach`` and
``corral job wait`` say why a job is pending (once per reason), ``corral run`` gives up on a
job the system requeued held, and ``corral job wait`` without an id reaps each waitable job
once, as ``flux job wait`` does."""

import select
import subprocess
import sys
import time

SIMULATED = "--setattr=exec.test.run_duration=0"


def _command(instance, *args):
    return subprocess.Popen([sys.executable, "-m", "corral", *map(str, args)],
                            env=instance.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _stderr_line(process, timeout=20) -> str:
    ready, _, _ = select.select([process.stderr], [], [], timeout)
    assert ready, f"no line on stderr within {timeout}s"
    return process.stderr.readline().rstrip("\n")


def _finish(process, timeout=30):
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def _node(instance) -> str:
    (node,) = instance.client().rpc("resource.list")["nodes"]
    return node["name"]


def _only_job(instance) -> int:
    (job,) = instance.client().jobs(states=127)
    return job["id"]


def test_run_gives_up_on_a_job_requeued_held_after_a_failed_prolog(make_instance, tmp_path):
    prolog = tmp_path / "prolog"
    prolog.write_text("#!/bin/sh\nexit 1\n")
    prolog.chmod(0o755)
    config = tmp_path / "corral.toml"
    config.write_text(f'[prep]\nprolog = "{prolog}"\n')
    instance = make_instance(config=config)
    result = instance.corral("run", "hostname", check=False, timeout=30)
    job_id = _only_job(instance)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"corral run: job {job_id} requeued and held: Prolog failure on node {_node(instance)}"]
    job = instance.client().job(job_id)
    assert (job["state_name"], job["urgency"]) in (("PRIORITY", 0), ("SCHED", 0))


def test_run_says_once_that_the_only_node_is_drained_and_runs_once_it_is_back(instance):
    node = _node(instance)
    instance.corral("resource", "drain", node, "maintenance")
    process = _command(instance, "run", "echo", "ran")
    line = _stderr_line(process)
    job_id = _only_job(instance)
    assert line == (f"corral run: job {job_id} is pending (Resources): every node is drained: "
                    f"{node} (maintenance)")
    time.sleep(2.5)  # more notices would come now, were they repeated
    instance.corral("resource", "undrain", node)
    result = _finish(process)
    assert result == (0, "ran\n", ""), result


def test_run_and_attach_on_a_held_job_say_how_to_release_it(instance):
    run = _command(instance, "run", "--urgency=hold", "echo", "released")
    line = _stderr_line(run)
    job_id = _only_job(instance)
    release = f"corral job urgency {job_id} default releases it"
    assert line == f"corral run: job {job_id} is pending (JobHeldUser): {release}"
    attach = _command(instance, "job", "attach", job_id)
    assert _stderr_line(attach) == (
        f"corral job attach: job {job_id} is pending (JobHeldUser): {release}")
    wait = _command(instance, "job", "wait", job_id)
    assert _stderr_line(wait) == (
        f"corral job wait: job {job_id} is pending (JobHeldUser): {release}")
    instance.corral("job", "urgency", job_id, "default")
    assert _finish(run) == (0, "released\n", "")
    assert _finish(attach) == (0, "released\n", "")
    assert _finish(wait) == (0, "", "")


def test_run_says_the_queue_is_stopped(instance):
    instance.corral("queue", "stop")
    run = _command(instance, "run", "true")
    job_id = int(_stderr_line(run).split()[3])
    instance.corral("queue", "start")
    assert _finish(run) == (0, "", "")
    assert _only_job(instance) == job_id


def test_wait_without_id_reaps_each_waitable_job_once(instance):
    plain = instance.submit(SIMULATED, "true")
    ids = [int(line) for line in instance.corral(
        "submit", "--flags=waitable", "--cc=0-2", "sh", "-c", "exit $((CORRAL_JOB_CC % 2))"
    ).stdout.split()]
    for job_id in (plain, *ids):
        instance.wait_inactive(job_id)
    seen = {}
    for _ in ids:
        result = instance.corral("job", "wait", check=False)
        job_id = int(result.stdout)
        seen[job_id] = result.returncode
        if result.returncode:
            assert result.stderr == (f"corral job wait: {job_id}: task(s) exited with exit "
                                     "code 1\n")
    assert seen == {ids[0]: 0, ids[1]: 1, ids[2]: 0}
    result = instance.corral("job", "wait", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", "corral job wait: there are no waitable jobs\n")
    # Waiting by id reaps a waitable job too; a job without the flag is never waitable.
    reaped = instance.submit("--flags=waitable", SIMULATED, "true")
    instance.corral("job", "wait", reaped)
    assert instance.corral("job", "wait", check=False).returncode == 2


def test_wait_all_reports_each_job_once_and_fails_if_one_failed(instance):
    first = [int(line) for line in instance.corral(
        "submit", "--flags=waitable", "--cc=1-3", "sh", "-c", "test $CORRAL_JOB_CC != 2"
    ).stdout.split()]
    result = instance.corral("job", "wait", "--all", "-v", check=False)
    assert result.returncode == 1
    assert sorted(result.stdout.splitlines()) == sorted(
        f"{job_id}: job completed" for job_id in (first[0], first[2]))
    assert result.stderr == f"corral job wait: {first[1]}: task(s) exited with exit code 1\n"
    again = instance.corral("job", "wait", "--all", "-v")
    assert (again.stdout, again.stderr) == ("", "")


def test_wait_without_id_says_its_job_is_held(instance):
    job_id = instance.submit("--flags=waitable", "--urgency=hold", "true")
    wait = _command(instance, "job", "wait")
    assert _stderr_line(wait) == (f"corral job wait: job {job_id} is pending (JobHeldUser): "
                                  f"corral job urgency {job_id} default releases it")
    instance.corral("job", "urgency", job_id, "default")
    assert _finish(wait) == (0, f"{job_id}\n", "")
