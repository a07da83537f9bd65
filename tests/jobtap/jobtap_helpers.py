"""Helpers shared by the jobtap conformance suite (flux-core's checklist, area by area).

Jobs here are simulated (``system.exec.test.run_duration``) unless the test is about their
processes, and the instance is driven through the client API; the CLI is used where the CLI
itself is what a test pins.
"""

import json
import pathlib
import time

import pytest

from corral import jobspec
from corral.client import RPCError

PLUGINS = pathlib.Path(__file__).resolve().parent.parent / "plugins"
EXAMPLES = str(PLUGINS.parent.parent / "examples" / "jobtap")


def plugin(name: str) -> str:
    """Absolute path of a test plugin in ``tests/plugins``."""
    return str(PLUGINS / name)


def spec(command=("true",), run="0", setattr=(), **options) -> dict:
    """A jobspec whose run is simulated for ``run`` (FSD), or really run with ``run=None``."""
    attributes = list(setattr)
    if run is not None:
        attributes.append(f"system.exec.test.run_duration={run}")
    return jobspec.build(list(command), cwd="/tmp", setattr=attributes, **options)


def submit(client, urgency=16, flags=0, **options) -> int:
    return client.submit(spec(**options), urgency=urgency, flags=flags)


def names(client, job_id) -> list[str]:
    return [event["name"] for event in client.eventlog(job_id)]


def events(client, job_id, name) -> list[dict]:
    return [event for event in client.eventlog(job_id) if event["name"] == name]


def wait(client, job_id, name="clean", timeout=15) -> dict:
    return client.wait_event(job_id, name, timeout)


def state(client, job_id) -> str:
    from corral.states import STATE_NAMES, State

    return STATE_NAMES[State(client.job(job_id)["state"])]


def load(client, path, conf=None, remove=None):
    payload = {"load": path}
    if conf is not None:
        payload["conf"] = conf
    if remove is not None:
        payload["remove"] = remove
    return client.rpc("job-manager.jobtap", payload)


def remove(client, name):
    return client.rpc("job-manager.jobtap", {"remove": name})


def loaded(client) -> list[str]:
    return client.rpc("job-manager.jobtap", {"query_only": True})["plugins"]


def query(client, name) -> dict:
    return client.rpc("job-manager.jobtap-query", {"name": name})


def dmesg(client, clear=False) -> list[str]:
    return client.rpc("log.dmesg", {"clear": clear})["lines"]


def until(check, timeout=10.0, interval=0.02):
    """Poll ``check()`` until it returns something true; return that, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        time.sleep(interval)


def rpc_error(call, *args, **kwargs) -> RPCError:
    """The RPCError ``call`` raises (fails the test if it succeeds)."""
    with pytest.raises(RPCError) as caught:
        call(*args, **kwargs)
    return caught.value


def config_file(tmp_path, text: str, name="corral.toml") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def json_lines(lines, marker) -> list:
    """The JSON documents logged after ``marker`` in dmesg lines, in order."""
    return [json.loads(line.split(marker, 1)[1]) for line in lines if marker in line]


GUEST = "corral-guest"


def guest_user():
    """The unprivileged user guest tests run as (created when missing; needs root)."""
    import os
    import pwd
    import subprocess

    if os.geteuid() != 0:
        pytest.fail("guest tests need root to act as an unprivileged user")
    try:
        return pwd.getpwnam(GUEST)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", GUEST],
                       check=True)
        return pwd.getpwnam(GUEST)


def as_guest(uri, call):
    """Run ``call(client)`` as the guest user in a child process; its result, or the
    RPCError it raised."""
    import os

    user = guest_user()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            from corral.client import Client

            with Client(uri) as client:
                payload = {"result": call(client)}
        except RPCError as exc:
            payload = {"errno": exc.errno, "error": exc.strerror}
        except BaseException as exc:
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
