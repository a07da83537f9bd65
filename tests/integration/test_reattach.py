"""A persistent instance on one machine serves its node with a ``corral agent`` process of its
own: jobs outlive the controller (``kill -9`` or a clean stop) and the next one takes them
back; the controller starts a dead agent again; a clean stop with no job stops the agent."""

import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

from corral import jobspec
from support import alive, events, until, wait

pytestmark = pytest.mark.agent_processes  # jobs that outlive the controller

#: Jobs i < ENDS_AWAY sleep 1 s: they end while the controller is away.
ENDS_AWAY = 10


def agent_pid(instance) -> int:
    [pid_file] = pathlib.Path(instance.state_dir, "agents").glob("*.pid")
    return int(pid_file.read_text())



def test_jobs_outlive_a_killed_controller_and_end_with_their_status_and_output(
        make_instance, tmp_path):
    config = tmp_path / "slots.toml"
    config.write_text('[[resource.config]]\nhosts = "node0"\ncores = "0-99"\n')
    inst = make_instance(config=config)
    specs = [jobspec.build(["sh", "-c", f"sleep {1 if i < ENDS_AWAY else 5}; echo job {i}; "
                                        f"exit {i}"])
             for i in range(100)]
    with inst.client() as client:
        ids = client.submit_many(specs)
        until(lambda: all(events(client, job, "start") for job in ids), timeout=30)
    inst.kill()
    output = pathlib.Path(inst.state_dir, "output")
    until(lambda: all((output / f"{job}.out").exists() for job in ids[:ENDS_AWAY]),
          timeout=10)
    inst.start()
    with inst.client() as client:
        for index, job in enumerate(ids):
            wait(client, job, "clean", timeout=30)
            assert events(client, job, "exception") == []
            [finish] = events(client, job, "finish")
            assert os.WEXITSTATUS(finish["context"]["status"]) == index
            assert (output / f"{job}.out").read_text() == f"job {index}\n"


def test_running_job_runs_on_across_a_clean_restart_with_the_same_agent(instance):
    job = instance.submit("sh", "-c", "sleep 2; echo done")
    with instance.client() as client:
        wait(client, job, "start")
    pid = agent_pid(instance)
    instance.restart()
    assert agent_pid(instance) == pid and alive(pid)
    with instance.client() as client:
        finish = wait(client, job, "finish")
        assert finish["context"]["status"] == 0
        assert events(client, job, "exception") == []
    assert instance.corral("job", "attach", job).stdout == "done\n"
    # The agent kept the first job's environment for the last controller; the new one sends
    # it whole again (`transport.shared`), with what corral sets over it.
    after = instance.submit("sh", "-c", 'echo "$PATH $CORRAL_JOB_ID"')
    with instance.client() as client:
        assert wait(client, after, "finish")["context"]["status"] == 0
    assert instance.corral("job", "attach", after).stdout == \
        f"{instance.env()['PATH']} {after}\n"


def test_clean_stop_without_running_jobs_stops_the_agent(instance):
    pid = agent_pid(instance)
    instance.stop()
    until(lambda: not alive(pid), timeout=10)
    assert list(pathlib.Path(instance.state_dir, "agents").glob("*.pid")) == []


def test_dead_agent_is_started_again_its_tasks_killed_and_its_job_failed(instance, tmp_path):
    marker = tmp_path / "pid"
    job = instance.submit("-S", "requeue=false", "sh", "-c",
                          f"echo $$ > {marker}; exec sleep 60")
    with instance.client() as client:
        wait(client, job, "start")
        until(lambda: marker.exists() and marker.read_text().strip())
        task = int(marker.read_text())
        pid = agent_pid(instance)
        os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        exception = wait(client, job, "exception")["context"]
        assert exception["type"] == "node-fail"
        assert exception["note"].endswith("restarted")
        assert time.monotonic() - started < 10
    assert agent_pid(instance) != pid
    assert "agents: the agent of node" in instance.log()
    until(lambda: not alive(task), timeout=5)  # the task the dead agent left
    # The new agent serves: a job runs.
    assert instance.corral("run", "echo", "again").stdout == "again\n"


def test_run_follows_its_job_across_a_controller_restart(instance):
    run = subprocess.Popen([sys.executable, "-m", "corral", "run", "sh", "-c",
                            "echo first; sleep 3; echo second; exit 5"],
                           env=instance.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    assert run.stdout.readline() == "first\n"
    instance.kill()
    instance.start()
    out, err = run.communicate(timeout=30)
    assert out == "second\n"  # from where it stopped: nothing twice, nothing lost
    assert run.returncode == 5
    assert err.splitlines() == [
        f"corral run: lost the instance at {instance.uri}; waiting for it to come back to "
        "follow job 1 on",
        "corral run: job 1: task(s) exited with exit code 5"]


def test_run_gives_up_on_an_instance_that_does_not_come_back_in_one_line(
        instance, monkeypatch, capsys):
    from corral import cli
    from corral.cli import run

    monkeypatch.setattr(run, "RECONNECT_WAIT", 1.0)
    monkeypatch.setenv("CORRAL_URI", instance.uri)
    marker = pathlib.Path(instance.state_dir, "started")
    killer = subprocess.Popen([sys.executable, "-c", KILL_WHEN_STARTED, str(marker),
                               str(instance.process.pid)])
    assert cli.main(["run", "sh", "-c", f"touch {marker}; sleep 5"]) == 1
    killer.wait(10)
    instance.process.wait()
    instance.process = None
    err = capsys.readouterr().err.splitlines()
    job = int(re.search(r"job (\d+) may run on", err[-1])[1])
    assert err[-1] == (f"corral run: lost the instance at {instance.uri}; job {job} may run "
                       f"on (corral job attach {job} to follow it again once the instance is "
                       "back)")
    instance.start()
    assert instance.corral("job", "attach", job).returncode == 0


#: Kill the controller (argv[2]) with SIGKILL once the file argv[1] exists.
KILL_WHEN_STARTED = """
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
os.kill(int(sys.argv[2]), 9)
"""


def test_agent_killed_while_no_controller_runs_fails_its_job_and_leaves_no_task(instance,
                                                                              tmp_path):
    marker = tmp_path / "pid"
    job = instance.submit("-S", "requeue=false", "sh", "-c", f"echo $$ > {marker}; exec sleep 60")
    with instance.client() as client:
        wait(client, job, "start")
    until(lambda: marker.exists() and marker.read_text().strip())
    task = int(marker.read_text())
    pid = agent_pid(instance)
    instance.kill()
    os.kill(pid, signal.SIGKILL)
    until(lambda: not alive(pid))
    instance.start()
    with instance.client() as client:
        exception = wait(client, job, "exception")["context"]
    assert exception["type"] == "node-fail" and exception["note"].endswith("restarted")
    until(lambda: not alive(task), timeout=5)


def test_a_start_its_configuration_refuses_leaves_no_agent_running(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[job-manager]\nplugins = [{ load = "/no/such/plugin.py" }]\n')
    state = tmp_path / "state"
    result = subprocess.run([sys.executable, "-m", "corral", "start", f"--state-dir={state}",
                             f"--config={config}"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stderr.startswith("corral start: ")
    assert list((state / "agents").glob("*.pid")) == []
    assert subprocess.run(["pgrep", "-f", f"corral agent --connect ipc://{state}/"],
                          capture_output=True).returncode == 1


def test_agent_alone_for_reattach_timeout_kills_its_tasks_and_exits(make_instance, tmp_path):
    config = tmp_path / "short.toml"
    config.write_text('[agents]\nreattach-timeout = "2s"\n')
    inst = make_instance(config=config)
    marker = tmp_path / "pid"
    job = inst.submit("-S", "requeue=false", "sh", "-c", f"echo $$ > {marker}; exec sleep 60")
    with inst.client() as client:
        wait(client, job, "start")
    until(lambda: marker.exists() and marker.read_text().strip())
    task, pid = int(marker.read_text()), agent_pid(inst)
    inst.kill()
    until(lambda: not alive(task) and not alive(pid), timeout=15)
    log = "".join(path.read_text()
                  for path in pathlib.Path(inst.state_dir, "agents").glob("*.log"))
    assert "(reattach-timeout): killing the tasks of 1 jobs" in log
    assert "(reattach-timeout): exiting" in log
    inst.start()
    with inst.client() as client:
        assert wait(client, job, "exception")["context"]["type"] == "node-fail"
