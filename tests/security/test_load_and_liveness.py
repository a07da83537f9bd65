"""Liveness under crashes, hanging plugins, full disks and abusive clients: the controller
restarts from whatever its store holds, keeps serving while a plugin hangs, says why it
cannot store, and stays fair to everyone while one guest abuses it."""

import contextlib
import errno
import json
import os
import socket
import sqlite3
import struct
import subprocess
import sys
import time

from support import until

IGNORE_SIGTERM = ["sh", "-c", "trap '' TERM; sleep 300"]


def test_restart_after_a_crash_with_jobs_in_cleanup_succeeds_at_once(make_instance, tmp_path):
    config = tmp_path / "slow-kill.toml"
    config.write_text('[exec]\nkill-timeout = "60s"\n')
    inst = make_instance(config=config)
    jobs = [inst.submit(*IGNORE_SIGTERM) for _ in range(2)]
    with inst.client() as client:
        for job_id in jobs:
            client.wait_event(job_id, "start", 10)
        inst.corral("cancel", *jobs)
        until(lambda: all(client.job(job_id)["state_name"] == "CLEANUP" for job_id in jobs))
    inst.kill()
    inst.start()  # one start, whatever the store holds
    with inst.client() as client:
        for job_id in jobs:
            client.wait_event(job_id, "clean", 10)
            assert client.job(job_id)["result_name"] == "CANCELED"
        fresh = inst.submit("true")
        client.wait_event(fresh, "clean", 10)
        assert client.job(fresh)["result_name"] == "COMPLETED"
    assert "Traceback" not in inst.log()


def test_a_job_the_store_holds_but_cannot_rebuild_is_ended_with_a_reason(make_instance):
    inst = make_instance()
    job_id = inst.submit("sleep", "300")
    with inst.client() as client:
        client.wait_event(job_id, "start", 10)
    inst.kill()
    with sqlite3.connect(f"{inst.state_dir}/corral.db") as db:
        db.execute("UPDATE jobs SET jobspec = ? WHERE id = ?", ('{"version": 99}', job_id))
    inst.start()
    with inst.client() as client:
        exception = client.wait_event(job_id, "exception", 10)
        client.wait_event(job_id, "clean", 10)
        assert client.job(job_id)["result_name"] == "FAILED"
    assert exception["context"]["type"] == "restart"
    assert "stored jobspec is no longer valid" in exception["context"]["note"]
    inst.restart()  # the ended job does not come back at the next start
    assert f"job {job_id}: cannot be recovered" not in inst.log().split("started at")[-1]


@contextlib.contextmanager
def small_disk(path, size="4m"):
    """A tmpfs of ``size`` mounted at ``path`` for the length of the block."""
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path):
    """Write a file at ``path`` until the disk holding it is full."""
    with open(path, "wb", buffering=0) as file:
        for size in (1 << 16, 512):
            try:
                while True:
                    file.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC


def test_a_full_disk_refuses_new_work_and_resumes_when_space_returns(make_instance, tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        inst = make_instance(state_dir=disk / "state")
        fill(disk / "filler")
        held = subprocess.Popen([sys.executable, "-m", "corral", "submit", "true"],
                                env=inst.env(), stdout=subprocess.PIPE, text=True)
        until(lambda: "is full" in inst.log())
        refused = inst.corral("submit", "true", check=False, timeout=10)
        assert refused.returncode != 0
        assert "takes no new jobs for now: the disk holding" in refused.stderr
        assert "cannot rollback" not in inst.log()
        inst.corral("jobs", "-a", timeout=10)  # reads still served
        os.unlink(disk / "filler")
        job_id = int(held.communicate(timeout=10)[0].split()[-1])
        inst.wait_inactive(job_id)
        with inst.client() as client:
            assert client.job(job_id)["result_name"] == "COMPLETED"
        assert "succeed again" in inst.log()
        inst.wait_inactive(inst.submit("true"))
        assert inst.stop() == 0


def test_a_stop_while_the_disk_stays_full_says_what_is_lost_and_exits_non_zero(make_instance,
                                                                                tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        inst = make_instance(state_dir=disk / "state")
        fill(disk / "filler")
        subprocess.Popen([sys.executable, "-m", "corral", "submit", "true"], env=inst.env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        until(lambda: "is full" in inst.log())
        assert inst.stop() == 1
        assert "stopping with" in inst.log() and "writes not stored" in inst.log()


def test_output_lost_to_a_full_disk_is_in_the_eventlog_and_the_job_fails(make_instance,
                                                                         tmp_path):
    state = tmp_path / "state"
    with small_disk(state / "output", size="1m"):
        inst = make_instance(state_dir=state)
        job_id = inst.submit("sh", "-c", "head -c 3000000 /dev/zero; sleep 30")
        with inst.client() as client:
            exception = client.wait_event(job_id, "exception", 10)
            client.wait_event(job_id, "clean", 10)
            assert client.job(job_id)["result_name"] == "FAILED"
        assert exception["context"]["type"] == "output"
        assert "stdout could not be written to" in exception["context"]["note"]
        assert "No space left on device" in exception["context"]["note"]
        inst.stop()


def test_a_string_the_store_cannot_encode_does_not_stop_the_instance(make_instance):
    inst = make_instance()
    job_id = inst.submit("sleep", "30")
    body = json.dumps({"topic": "job-manager.memo", "matchtag": 1,
                       "payload": {"id": job_id, "memo": {"note": "\ud800"}}}).encode()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(inst.uri.removeprefix("local://"))
        sock.sendall(struct.pack(">I", len(body)) + body)
        sock.settimeout(10)
        sock.recv(4096)  # an answer, refused or accepted
    time.sleep(0.2)  # the batch holding the memo, if accepted, is committed meanwhile
    assert inst.process.poll() is None
    other = inst.submit("true")
    inst.wait_inactive(other)
    with inst.client() as client:
        assert client.job(other)["result_name"] == "COMPLETED"
        client.cancel(job_id)
        client.wait_event(job_id, "clean", 10)
    assert inst.stop() == 0
