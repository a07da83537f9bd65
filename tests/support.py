"""Helpers shared by the test suites: reading eventlogs, waiting, acting as an
unprivileged guest user, running a command on a terminal of its own, making key
directories, and carrying a transport link's frames by hand.

CI runs as root; guest access is tested by a real unprivileged account (created with
``useradd`` if missing) in a forked child that drops to its uid and gid, so nothing assumes
root is the only user.
"""

import contextlib
import json
import os
import pty
import pwd
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time

import pytest

from corral.broker import wire
from corral.client import Client, ConnectError, RPCError
from corral.transport import frames

GUEST = "corral-guest"


def guest_user():
    """The unprivileged user guest tests run as (created when missing; needs root)."""
    if os.geteuid() != 0:
        pytest.fail("guest tests need root to act as an unprivileged user")
    try:
        return pwd.getpwnam(GUEST)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", GUEST],
                       check=True)
        return pwd.getpwnam(GUEST)


def become(user):
    """Drop this (forked) process to ``user``'s uid and primary gid, with no other groups."""
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def _fork_as_guest(work, hold=False):
    """Fork a child that becomes the guest user, runs ``work()`` (a JSON payload) and sends
    it back as one line; with ``hold`` the child then keeps what it opened until killed.
    Returns ``(pid, payload)``."""
    user = guest_user()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            become(user)
            payload = work()
        except BaseException as exc:
            payload = {"crash": repr(exc)}
        os.write(write_fd, (json.dumps(payload) + "\n").encode())
        if hold:
            time.sleep(120)
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        payload = json.loads(pipe.readline() or '{"crash": "no answer"}')
    return pid, payload


def as_guest(uri, call):
    """Run ``call(client)`` as the guest user in a child process; its result, or the
    RPCError it raised."""
    def work():
        try:
            with Client(uri) as client:
                return {"result": call(client)}
        except RPCError as exc:
            return {"errno": exc.errno, "error": exc.strerror}

    pid, payload = _fork_as_guest(work)
    os.waitpid(pid, 0)
    if "crash" in payload:
        raise AssertionError(payload["crash"])
    if "errno" in payload:
        raise RPCError(payload["errno"], payload["error"])
    return payload["result"]


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie has ended; a process reaped while its stat is
    read, ESRCH, has too)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def names(client, job_id) -> list[str]:
    """The names of a job's committed events, in order."""
    return [event["name"] for event in client.eventlog(job_id)]


def events(client, job_id, name) -> list[dict]:
    """A job's committed events called ``name``."""
    return [event for event in client.eventlog(job_id) if event["name"] == name]


def wait(client, job_id, name="clean", timeout=20) -> dict:
    """Wait for a job's event (``clean`` by default) and return it."""
    return client.wait_event(job_id, name, timeout)


def keygen(directory, nodes: str = "node[1-2]") -> str:
    """``corral keygen DIR -N NODES``: a key directory for a controller and ``nodes``."""
    subprocess.run([sys.executable, "-m", "corral", "keygen", str(directory), "-N", nodes],
                   check=True, capture_output=True)
    return str(directory)


async def until_async(check, timeout=10.0, interval=0.005):
    """`until` inside an event loop: poll ``check()`` without blocking the loop."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out: {check}"
        await asyncio.sleep(interval)


def until(check, timeout=15.0, interval=0.02):
    """Poll ``check()`` until it returns something true; return that, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        time.sleep(interval)


def connected(uri):
    """A client of the instance at ``uri`` once it accepts connections (None before: its
    socket file appears before it listens)."""
    try:
        return Client(uri)
    except ConnectError:
        return None


def guest_directory(prefix="corral-guest-") -> str:
    """A fresh directory under /tmp that belongs to the guest user (mode 0700), as the
    guest's own files would be; the caller removes it."""
    user = guest_user()
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chown(path, user.pw_uid, user.pw_gid)
    return path


def rss_kib(pid: int) -> int:
    """The resident memory of process ``pid`` in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"process {pid} has no VmRSS")


def raw_exchange(client, body: bytes, header: bytes | None = None) -> dict:
    """Send ``body`` as one frame on ``client``'s socket (``header``: a length prefix of
    one's own) and return the next frame the instance answers, decoded."""
    client.sock.sendall((struct.pack(">I", len(body)) if header is None else header) + body)
    reader = wire.FrameReader()
    client.sock.settimeout(20)
    while True:
        data = client.sock.recv(1 << 16)
        if not data:
            raise AssertionError("the instance closed the connection")
        frames = reader.feed(data)
        if frames:
            return wire.decode_body(frames[0])


@contextlib.contextmanager
def guest_holding(call):
    """Run ``call()`` as the guest user in a child process that then holds whatever it
    opened (connections, unread replies) until the block ends; yields its JSON result."""
    pid, payload = _fork_as_guest(lambda: {"result": call()}, hold=True)
    try:
        if "crash" in payload:
            raise AssertionError(payload["crash"])
        yield payload["result"]
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


class Terminal:
    """A command run on a pseudo-terminal of its own, as a user at a shell runs it; with
    ``instance`` None, with no ``CORRAL_URI`` (``corral start``).  ``args`` are corral's,
    or with ``program`` (a path: a Slurm command of ``corral slurm path``) that program's."""

    def __init__(self, instance, *args, program=None):
        env = instance.env() if instance is not None else {
            key: value for key, value in os.environ.items() if key != "CORRAL_URI"}
        argv = [program, *map(str, args)] if program else \
            [sys.executable, "-m", "corral", *map(str, args)]
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.output = b""
        self.status = None

    def type(self, keys: bytes):
        os.write(self.fd, keys)

    def read_until(self, text: str, timeout=15.0) -> str:
        """Wait until ``text`` has appeared in the output; return the output so far."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(f"no {text!r} on the terminal; it shows:\n"
                                     + self.output.decode(errors="replace"))
        return self.output.decode(errors="replace")

    def read_until_match(self, pattern: str, timeout=15.0) -> re.Match:
        """Wait until the output matches the regular expression ``pattern``; the match."""
        deadline = time.monotonic() + timeout
        while not (match := re.search(pattern, self.output.decode(errors="replace"))):
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(f"nothing matching {pattern!r} on the terminal; it "
                                     "shows:\n" + self.output.decode(errors="replace"))
        return match

    def _read(self, timeout) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 4096)
        except OSError:  # EIO: the command exited and closed the terminal
            return False
        self.output += data
        return bool(data)

    def exit_status(self, timeout=20.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._read(0.1)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                while self._read(0.1):
                    pass
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        raise AssertionError("the command did not exit; the terminal shows:\n"
                             + self.output.decode(errors="replace"))

    def close(self):
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


class Wire:
    """A transport link's frames in flight one way; ``cut`` loses everything in flight, as a
    broken connection does."""

    def __init__(self):
        self.frames = []

    def send(self, data):
        self.frames.append(data)

    def deliver(self, link, applied):
        frames_now, self.frames = self.frames, []
        for data in frames_now:
            link.receive(frames.decode(data), applied.append)
        link.acknowledge()

    def cut(self):
        self.frames.clear()
