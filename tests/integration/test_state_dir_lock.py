"""One instance per state directory: a second ``corral start`` on a directory a live
instance uses refuses at once and touches nothing; a lock left by a killed instance does not
refuse; a clean stop removes the socket."""

import os
import subprocess
import sys

import pytest

from corral.states import State
from support import names, wait

pytestmark = pytest.mark.agent_processes  # jobs that outlive the controller


def start_again(state_dir, timeout=20):
    return subprocess.run([sys.executable, "-m", "corral", "start", f"--state-dir={state_dir}"],
                          capture_output=True, text=True, timeout=timeout)


def directory_listing(state_dir):
    """Every file under ``state_dir`` with its inode, size and modification time."""
    found = {}
    for root, _dirs, files in os.walk(state_dir):
        for name in files:
            path = os.path.join(root, name)
            if name == "controller.log":  # the test harness's own file
                continue
            info = os.stat(path)
            found[path] = (info.st_ino, info.st_size, info.st_mtime_ns)
    return found


def test_second_start_on_a_live_state_dir_refuses_and_leaves_the_first_untouched(instance):
    job_id = instance.submit("sleep", "30")
    with instance.client() as client:
        client.wait_event(job_id, "start", 10)
    before = directory_listing(instance.state_dir)

    second = start_again(instance.state_dir)

    assert second.returncode != 0
    assert second.stdout == ""
    assert second.stderr == (f"corral start: {instance.state_dir} is in use by corral pid "
                             f"{instance.process.pid}\n")
    # The first instance's socket answers, its job still runs, its files are as they were.
    assert directory_listing(instance.state_dir) == before
    with instance.client() as client:
        assert client.rpc("instance.info")["state_dir"] == instance.state_dir
        assert client.job(job_id)["state"] == State.RUN
        assert names(client, job_id)[-1] == "start"
        client.cancel(job_id)
        wait(client, job_id)
        assert "finish" in names(client, job_id)


def test_start_after_kill_9_is_not_refused_even_while_its_tasks_live(instance):
    done = instance.submit("true")
    instance.wait_inactive(done)
    running = instance.submit("sleep", "30")
    with instance.client() as client:
        client.wait_event(running, "start", 10)
    instance.kill()  # its task lives on, and must not hold the lock
    instance.start()
    with instance.client() as client:
        assert names(client, done)[-1] == "clean"
        assert names(client, running)[-1] == "start"  # taken back, still running
        client.cancel(running)
        assert wait(client, running)["name"] == "clean"


def test_clean_stop_removes_the_socket(instance):
    socket_path = os.path.join(instance.state_dir, "local.sock")
    assert os.path.exists(socket_path)
    assert instance.stop() == 0
    assert not os.path.exists(socket_path)
    # and the directory can be used again at once
    instance.start()
    assert os.path.exists(socket_path)


def test_a_lock_file_that_cannot_be_opened_stops_start_in_one_line(tmp_path):
    state_dir = tmp_path / "state"
    (state_dir / "lock").mkdir(parents=True)
    result = start_again(state_dir)
    assert result.returncode == 1
    assert result.stderr == (f"corral start: {state_dir}/lock: cannot open the lock file: "
                             "Is a directory\n")
    assert sorted(os.listdir(state_dir)) == ["lock"]
