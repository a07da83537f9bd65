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
import threading
import time

import pytest

from corral.client import RPCError
from support import as_guest, until

pytestmark = pytest.mark.agent_processes  # jobs that outlive the controller

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
    refused, garbled = inst.submit("sleep", "300"), inst.submit("sleep", "300")
    with inst.client() as client:
        client.wait_event(garbled, "start", 10)
    inst.kill()
    with sqlite3.connect(f"{inst.state_dir}/corral.db") as db:
        db.execute("UPDATE jobs SET jobspec = ? WHERE id = ?", ('{"version": 99}', refused))
        db.execute("UPDATE jobs SET jobspec = ? WHERE id = ?", ("{", garbled))
    inst.start()
    with inst.client() as client:
        for job_id, why in ((refused, "stored jobspec is no longer valid"),
                            (garbled, "stored jobspec is no longer valid (it is not valid JSON)")):
            exception = client.wait_event(job_id, "exception", 10)
            client.wait_event(job_id, "clean", 10)
            assert client.job(job_id)["result_name"] == "FAILED"
            assert exception["context"]["type"] == "restart"
            assert why in exception["context"]["note"]
    inst.restart()  # the ended jobs do not come back at the next start
    assert "cannot be recovered" not in inst.log().split("started at")[-1]


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


HANGING_PLUGIN = '''
import time

def validate(p, topic, args):
    if args["jobspec"]["attributes"]["system"].get("job", {}).get("name") == "hang":
        time.sleep(3600)
    return 0

def plugin_init(p):
    p.add_handler("job.validate", validate)
'''

STUBBORN_PLUGIN = '''
import time

def validate(p, topic, args):
    if args["jobspec"]["attributes"]["system"].get("job", {}).get("name") == "hang":
        while True:
            try:
                time.sleep(3600)
            except BaseException:
                pass
    return 0

def plugin_init(p):
    p.add_handler("job.validate", validate)
'''


def plugin_config(tmp_path, source, timeout, topic_text=""):
    path = tmp_path / "hang.py"
    path.write_text(source)
    config = tmp_path / "hang.toml"
    config.write_text(f'[job-manager]\ncallback-timeout = "{timeout}"\n'
                      f'plugins = [{{ load = "{path}" }}]\n{topic_text}')
    return config


def guest_submit(uri, name):
    from corral import jobspec

    spec = jobspec.build(["true"], name=name, cwd="/tmp")
    return lambda client: client.submit(spec)


def test_a_guest_job_that_hangs_a_plugin_is_refused_and_everyone_else_is_served(
        guest_instance, tmp_path):
    config = plugin_config(tmp_path, HANGING_PLUGIN, "1s").read_text()
    inst = guest_instance(config.removeprefix('[access]\nallow-guest-user = true\n'))
    results = {}
    attacker = threading.Thread(target=lambda: results.update(
        refused=_refusal(lambda: as_guest(inst.uri, guest_submit(inst.uri, "hang")))))
    attacker.start()
    until(lambda: "held the event loop" in inst.log() or None, timeout=10)
    started = time.monotonic()
    inst.corral("jobs", "-a", timeout=10)
    assert time.monotonic() - started < 2
    attacker.join(10)
    assert "interrupted: the callback ran longer than 1 s" in results["refused"]
    line = next(line for line in inst.log().splitlines() if "held the event loop" in line)
    assert "jobtap plugin" in line and "hang" in line and "job.validate" in line
    inst.wait_inactive(inst.submit("true"))


def _refusal(call):
    try:
        call()
    except RPCError as exc:
        return exc.strerror
    return "accepted"


def test_sigterm_stops_an_instance_stuck_in_a_plugin_that_ignores_interruption(
        make_instance, tmp_path):
    inst = make_instance(config=plugin_config(tmp_path, STUBBORN_PLUGIN, "60s"))
    sleeper = inst.submit("sleep", "317")
    with inst.client() as client:
        client.wait_event(sleeper, "start", 10)
    subprocess.Popen([sys.executable, "-m", "corral", "submit", "--job-name=hang", "true"],
                     env=inst.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    until(lambda: "Traceback" in inst.log() or _stuck(inst))
    process = inst.process
    started = time.monotonic()
    assert inst.stop(timeout=15) == 1
    assert time.monotonic() - started < 10
    assert "stopping the instance without it" in inst.log()
    assert "in jobtap plugin hang" in inst.log()
    assert process.returncode == 1
    # The task lives on in its node agent, and the next controller takes the job back: what
    # was queued is in the store.
    assert subprocess.run(["pgrep", "-f", "sleep 317"], capture_output=True).returncode == 0
    inst.start()
    with inst.client() as client:
        assert [event["name"] for event in client.eventlog(sleeper)][-1] == "start"
        client.cancel(sleeper)
        client.wait_event(sleeper, "clean", 10)
    assert subprocess.run(["pgrep", "-f", "sleep 317"], capture_output=True).returncode == 1


def _stuck(inst):
    try:
        with inst.client() as client:
            client.rpc("instance.info", timeout=0.3)
        return False
    except Exception:
        return True


def test_a_plugin_that_hangs_on_a_stored_job_does_not_stop_the_start(make_instance, tmp_path):
    inst = make_instance()
    job_id = inst.submit("--urgency=0", "--job-name=hang", "true")
    inst.stop()
    inst.config = str(plugin_config(tmp_path, HANGING_PLUGIN.replace("job.validate", "job.new"),
                                    "1s"))
    started = time.monotonic()
    inst.start(timeout=10)
    assert time.monotonic() - started < 5
    assert "job.new: the callback has held the event loop" in inst.log()
    with inst.client() as client:
        assert client.job(job_id)["state_name"] == "SCHED"  # held, as it was


HANGING_PREP = '''
import time
from corral import prep

plugin_name = "hanging controller prolog"
plugin_type = "prep/hang"

def init(): return prep.SUCCESS
def fini(): pass
def prep_p_register_callbacks(callbacks): pass
def prep_p_prolog(job_env, cred): return prep.SUCCESS
def prep_p_epilog(job_env, cred): return prep.SUCCESS
def prep_p_prolog_slurmctld(job):
    time.sleep(3600)
def prep_p_epilog_slurmctld(job): return prep.SUCCESS
def prep_p_required(call_type): return call_type == prep.CallType.PROLOG_SLURMCTLD
'''


@pytest.mark.parametrize("source, step", [
    ("def plugin_init(p):\n    while True:\n        pass\n", "plugin_init"),
    ("while True:\n    pass\n", "import")])
def test_a_plugin_that_hangs_while_it_loads_is_interrupted(make_instance, tmp_path, source,
                                                           step):
    plugin = tmp_path / "hang_load.py"
    plugin.write_text(source)
    config = tmp_path / "timeout.toml"
    config.write_text('[job-manager]\ncallback-timeout = "1s"\n')
    inst = make_instance(config=config)
    result = inst.corral("jobtap", "load", str(plugin), check=False, timeout=20)
    assert result.returncode == 1
    assert result.stderr.startswith(f"corral jobtap load: {plugin}: ")
    assert "CallbackTimeout: interrupted: the callback ran longer than 1 s" in result.stderr
    line = next(line for line in inst.log().splitlines() if "interrupting it" in line)
    assert f"jobtap plugin {plugin}: {step}:" in line
    assert inst.corral("jobtap", "list").stdout == ""
    inst.wait_inactive(inst.submit("true"))


def test_a_synchronous_controller_prolog_that_hangs_is_interrupted(guest_instance, tmp_path):
    plugin = tmp_path / "hang_prep.py"
    plugin.write_text(HANGING_PREP)
    inst = guest_instance(f'[job-manager]\ncallback-timeout = "1s"\n'
                          f'[prep]\nplugins = ["{plugin}"]\n')
    job_id = as_guest(inst.uri, guest_submit(inst.uri, "victim"))
    until(lambda: "interrupting it" in inst.log() or None, timeout=10)
    with inst.client() as client:
        client.wait_event(job_id, "prolog-finish", 10)  # a failed hook: the job goes on
        client.wait_event(job_id, "clean", 10)
    line = next(line for line in inst.log().splitlines() if "interrupting it" in line)
    assert "PrEp plugin" in line and "hang_prep.py" in line and "prep_p_prolog_slurmctld" in line
    inst.corral("jobs", "-a", timeout=5)


def test_a_hanging_node_prolog_without_timeout_can_be_cancelled(guest_instance, tmp_path):
    script = tmp_path / "prolog.sh"
    script.write_text("#!/bin/sh\nsleep 3600\n")
    script.chmod(0o755)
    inst = guest_instance(f'[prep]\nprolog = "{script}"\n')
    job_id = as_guest(inst.uri, guest_submit(inst.uri, "victim"))
    with inst.client() as client:
        client.wait_event(job_id, "prolog-start", 10)
        as_guest(inst.uri, lambda guest: guest.cancel(job_id))
        client.wait_event(job_id, "clean", 10)
        assert client.job(job_id)["result_name"] == "CANCELED"
        nodes = inst.corral("resource", "list").stdout
    assert "drain" not in nodes
    assert subprocess.run(["pgrep", "-f", str(script)], capture_output=True).returncode == 1
