"""An instance stopped (cleanly or with kill -9) and started again on the same state
directory finds every job where it was: no job lost, no id reused, no event lost or doubled."""

import time

import pytest

from corral import jobspec
from support import alive

pytestmark = pytest.mark.agent_processes  # jobs that outlive the controller

BASE = ["submit", "validate", "depend", "priority"]


def all_jobs(client):
    return {job["id"]: job for job in client.jobs(states=127)}


def test_clean_restart_keeps_history_and_continues_pending_jobs(instance):
    done = instance.submit("true")
    instance.wait_inactive(done)
    instance.corral("queue", "stop")
    pending = instance.submit("true")
    with instance.client() as client:
        client.wait_event(pending, "priority", 10)
        before = client.eventlog(done)
    instance.restart()
    assert instance.corral("queue", "status").stdout.splitlines()[1] == "Scheduling is stopped"
    instance.corral("queue", "start")
    with instance.client() as client:
        assert client.eventlog(done) == before
        client.wait_event(pending, "clean", 20)
        log = [e["name"] for e in client.eventlog(pending)]
        assert log[:5] == BASE + ["restart"]
        assert log[5:] == ["priority", "alloc", "start", "finish", "release", "free", "clean"]
        later = client.submit(jobspec.build(["true"]))
    assert later == pending + 1


@pytest.mark.agent_processes(False)  # `corral start --agents=in-process`: tasks end with it
def test_running_job_of_in_process_agents_ends_with_exception_after_restart(make_instance):
    instance = make_instance()
    job_id = instance.submit("sleep", "60")
    with instance.client() as client:
        client.wait_event(job_id, "start", 10)
    instance.restart()
    with instance.client() as client:
        client.wait_event(job_id, "clean", 20)
        log = client.eventlog(job_id)
        job = client.job(job_id)
    exception = next(e for e in log if e["name"] == "exception")["context"]
    assert exception == {"type": "exec", "severity": 0, "userid": 0,
                         "note": "the instance shut down while the job was running"}
    assert [e["name"] for e in log][-5:] == ["exception", "finish", "release", "free", "clean"]
    assert job["result_name"] == "FAILED"


def test_kill_9_mid_burst_loses_nothing(make_instance, tmp_path):
    config = tmp_path / "cores.toml"
    config.write_text('[[resource.config]]\nhosts = "node0"\ncores = "0-7"\n')
    inst = make_instance(config=config)
    sleeper = inst.submit("sleep", "60")
    spec = jobspec.build(["true"], setattr=["exec.test.run_duration=0.05"])
    with inst.client() as client:
        client.wait_event(sleeper, "start", 10)
        ids = client.submit_many([spec] * 300)
    time.sleep(0.3)
    inst.kill()
    inst.start()
    with inst.client() as client:
        # The sleeper outlived the controller on its agent; ending it lets the queue drain.
        client.cancel(sleeper)
        client.rpc("job-manager.queue-drain")
        jobs = all_jobs(client)
        assert set(ids) | {sleeper} <= set(jobs)
        for job_id in ids:
            log = [e["name"] for e in client.eventlog(job_id)]
            assert log[:4] == BASE
            assert log[-1] == "clean"
            assert len(log) == len(set(log)) or log.count("priority") == 2
            assert log.count("submit") == 1 and log.count("clean") == 1
        fresh = client.submit(jobspec.build(["true"]))
    assert fresh > max(ids + [sleeper])
    assert all(job["state_name"] == "INACTIVE" for job in jobs.values())


@pytest.mark.agent_processes(False)
def test_killed_controller_of_in_process_agents_leaves_no_orphan_tasks(make_instance,
                                                                        tmp_path):
    marker = tmp_path / "pid"
    inst = make_instance()
    job_id = inst.submit("sh", "-c", f"echo $$ > {marker}; exec sleep 120")
    with inst.client() as client:
        client.wait_event(job_id, "start", 10)
    while not marker.exists() or not marker.read_text().strip():
        time.sleep(0.02)
    pid = int(marker.read_text())
    inst.kill()
    assert alive(pid)
    inst.start()
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
    with inst.client() as client:
        client.wait_event(job_id, "clean", 10)



def test_restart_tells_plugins_of_inactive_jobs_with_their_stored_jobspec(make_instance,
                                                                          tmp_path):
    plugin = tmp_path / "inactive_seen.py"
    plugin.write_text(
        "def seen(p, topic, args):\n"
        "    p.get_flux().log(3, 'inactive %d %s %s', args['id'],\n"
        "                     args['jobspec']['tasks'][0]['command'], 'R' in args)\n"
        "def plugin_init(p):\n"
        "    p.add_handler('job.inactive-add', seen)\n")
    config = tmp_path / "plugins.toml"
    config.write_text(f'[job-manager]\nplugins = [{{ load = "{plugin}" }}]\n')
    inst = make_instance(config=config)
    job_id = inst.submit("echo", "hi")
    inst.wait_inactive(job_id)
    inst.restart()
    lines = [line for line in inst.dmesg().splitlines() if "inactive" in line]
    assert lines and lines[-1].endswith(f"inactive {job_id} ['echo', 'hi'] True")


def test_jobs_waiting_in_priority_get_one_at_restart(make_instance, tmp_path):
    plugin = tmp_path / "late_priority.py"
    plugin.write_text(
        "def unavailable(p, topic, args):\n"
        "    return p.priority_unavail(args)\n"
        "def known(p, topic, args):\n"
        "    args.pack(priority=5)\n"
        "def plugin_init(p):\n"
        "    p.add_handler('job.state.priority', unavailable)\n"
        "    p.add_handler('job.priority.get', known)\n")
    config = tmp_path / "plugins.toml"
    config.write_text(f'[job-manager]\nplugins = [{{ load = "{plugin}" }}]\n')
    inst = make_instance(config=config)
    job_id = inst.submit("true")
    with inst.client() as client:
        client.wait_event(job_id, "depend", 10)
        time.sleep(0.2)
        assert client.job(job_id)["state_name"] == "PRIORITY"
    inst.restart()
    event = inst.wait_inactive(job_id)
    assert event["name"] == "clean"
    with inst.client() as client:
        priorities = [e["context"] for e in client.eventlog(job_id) if e["name"] == "priority"]
    assert priorities == [{"priority": 5}]
