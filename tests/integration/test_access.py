"""Peer credentials decide roles: guests are refused unless allowed, and then see and cancel
only their own jobs; owner-only services stay owner-only."""

import errno
import json
import os
import pwd
import subprocess
import tempfile

import pytest

from corral import jobspec
from corral.client import Client, RPCError

GUEST = "corral-guest"


@pytest.fixture(scope="module")
def guest():
    if os.geteuid() != 0:
        pytest.fail("guest access tests need root to create an unprivileged user")
    try:
        entry = pwd.getpwnam(GUEST)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", GUEST], check=True)
        entry = pwd.getpwnam(GUEST)
    return entry


def as_user(user, func):
    """Run ``func()`` in a child process with the user's uid and gid; return its result or
    raise the RPCError it hit."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            payload = {"result": func()}
        except RPCError as exc:
            payload = {"errno": exc.errno, "error": exc.strerror}
        except BaseException as exc:  # report anything to the parent, never run its code
            payload = {"crash": repr(exc)}
        os.write(write_fd, json.dumps(payload).encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        payload = json.loads(pipe.read() or '{"crash": "no answer"}')
    os.waitpid(pid, 0)
    if "crash" in payload:
        raise AssertionError(payload["crash"])
    if "errno" in payload:
        raise RPCError(payload["errno"], payload["error"])
    return payload["result"]


@pytest.fixture
def shared_dir():
    path = tempfile.mkdtemp(prefix="corral-access-", dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    subprocess.run(["rm", "-rf", path], check=False)


def test_guest_is_refused_by_default(make_instance, shared_dir, guest):
    inst = make_instance(state_dir=os.path.join(shared_dir, "state"))
    os.chmod(inst.state_dir, 0o755)

    def list_jobs():
        with Client(inst.uri) as client:
            return client.jobs()

    try:
        as_user(guest, list_jobs)
    except RPCError as exc:
        assert exc.errno == errno.EPERM
        assert "guest access is not allowed" in exc.strerror
    else:
        raise AssertionError("a guest was let in")


def test_allowed_guest_sees_and_cancels_only_own_jobs(make_instance, shared_dir, guest):
    config = os.path.join(shared_dir, "access.toml")
    with open(config, "w") as file:
        file.write("[access]\nallow-guest-user = true\n")
    inst = make_instance(state_dir=os.path.join(shared_dir, "state"), config=config)
    os.chmod(inst.state_dir, 0o755)
    inst.corral("queue", "stop")
    owner_job = inst.submit("true")
    spec = jobspec.build(["id", "-u"], cwd="/tmp")

    def submit_and_look():
        with Client(inst.uri) as client:
            mine = client.submit(spec)
            listed = [job["id"] for job in client.jobs()]
            return mine, listed

    guest_job, listed = as_user(guest, submit_and_look)
    assert listed == [guest_job]

    def cancel_owner_job():
        with Client(inst.uri) as client:
            client.cancel(owner_job)

    try:
        as_user(guest, cancel_owner_job)
    except RPCError as exc:
        assert exc.errno == errno.EPERM
    else:
        raise AssertionError("a guest canceled someone else's job")

    def stop_queue():
        with Client(inst.uri) as client:
            client.rpc("job-manager.queue-start", {"start": False})

    try:
        as_user(guest, stop_queue)
    except RPCError as exc:
        assert exc.errno == errno.EPERM
        assert exc.strerror == "Request requires owner credentials"
    else:
        raise AssertionError("a guest controlled the queue")

    inst.corral("queue", "start")
    inst.wait_inactive(guest_job)
    with inst.client() as client:
        job = client.job(guest_job)
        output = "".join(data for _, data in client.output(guest_job))
    assert job["userid"] == guest.pw_uid and job["result_name"] == "COMPLETED"
    assert output == f"{guest.pw_uid}\n"
