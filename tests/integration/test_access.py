"""Peer credentials decide roles: guests are refused unless allowed, and then see and cancel
only their own jobs; owner-only services stay owner-only."""

import errno
import os
import shutil
import tempfile

from corral import jobspec
from corral.client import RPCError
from support import as_guest, guest_user


def test_guest_is_refused_by_default(make_instance):
    shared = tempfile.mkdtemp(prefix="corral-access-", dir="/tmp")
    os.chmod(shared, 0o755)
    inst = make_instance(state_dir=os.path.join(shared, "state"))
    os.chmod(inst.state_dir, 0o755)
    try:
        as_guest(inst.uri, lambda client: client.jobs())
    except RPCError as exc:
        assert exc.errno == errno.EPERM
        assert "guest access is not allowed" in exc.strerror
    else:
        raise AssertionError("a guest was let in")
    finally:
        inst.stop()
        shutil.rmtree(shared, ignore_errors=True)


def test_allowed_guest_sees_and_cancels_only_own_jobs(guest_instance):
    inst = guest_instance()
    guest = guest_user()
    inst.corral("queue", "stop")
    owner_job = inst.submit("true")
    spec = jobspec.build(["id", "-u"], cwd="/tmp")

    def submit_and_look(client):
        mine = client.submit(spec)
        return mine, [job["id"] for job in client.jobs()]

    guest_job, listed = as_guest(inst.uri, submit_and_look)
    assert listed == [guest_job]

    try:
        as_guest(inst.uri, lambda client: client.cancel(owner_job))
    except RPCError as exc:
        assert exc.errno == errno.EPERM
    else:
        raise AssertionError("a guest canceled someone else's job")

    try:
        as_guest(inst.uri, lambda client: client.rpc("job-manager.queue-start",
                                                     {"start": False}))
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
