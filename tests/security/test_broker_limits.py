"""The broker protects itself and others from one client: connection limits per user and in
all, a job started while file descriptors run out fails instead of hanging, fair turns for
pipelined requests, and bounded memory for replies a client does not read."""

import json
import os
import pathlib
import resource
import socket
import struct
import subprocess
import time

import pytest

from corral import jobspec
from corral.limits import MAX_REQUEST_FRAME
from support import as_guest, guest_holding, until

pytestmark = pytest.mark.agent_processes  # jobs that outlive the controller

#: What a guest child opened and holds until it is killed (see `support.guest_holding`).
_HELD = []


def _frame(tag, topic, payload=None, streaming=False) -> bytes:
    request = {"topic": topic, "matchtag": tag, "payload": payload}
    if streaming:
        request["streaming"] = True
    body = json.dumps(request).encode()
    return struct.pack(">I", len(body)) + body


def _answer(sock) -> dict:
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed")
        data += chunk
    return json.loads(data[4:4 + struct.unpack(">I", data[:4])[0]])


def open_connections(path, count):
    """Open ``count`` connections, ask each for instance.info, keep them open."""
    def call():
        report = {"ok": 0, "refused": []}
        for _ in range(count):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(path)
            _HELD.append(sock)
            try:
                sock.sendall(_frame(1, "instance.info"))
            except BrokenPipeError:
                pass  # refused and closed before the request was sent: the refusal is there
            try:
                reply = _answer(sock)
            except OSError as exc:
                report["refused"].append(str(exc))
                continue
            if "errnum" in reply:
                report["refused"].append(reply["errstr"])
            else:
                report["ok"] += 1
        return report
    return call


def send_without_reading(path, *frames):
    """Send ``frames`` on one connection and never read what comes back."""
    def call():
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        _HELD.append(sock)
        sock.sendall(b"".join(frames))
        return len(frames)
    return call


def socket_path(inst) -> str:
    return inst.uri.removeprefix("local://")


def controller_rss(inst) -> int:
    """The controller's resident memory, in bytes."""
    with open(f"/proc/{inst.process.pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def test_a_guest_cannot_hold_more_connections_than_its_limit(guest_instance):
    inst = guest_instance("max-connections-per-user = 5\n")
    with guest_holding(open_connections(socket_path(inst), 8)) as report:
        assert report["ok"] == 5
        assert len(report["refused"]) == 3
        assert all("too many connections from uid" in text
                   and "max-connections-per-user = 5" in text for text in report["refused"]), report
        assert inst.corral("jobs", timeout=10).returncode == 0  # the owner is served
        refusal = as_guest(inst.uri, _refusal_of_rpc)
        assert "too many connections from uid" in refusal
    until(lambda: as_guest(inst.uri, _refusal_of_rpc) == "accepted")


def test_connections_in_all_are_limited_and_the_owner_keeps_a_reserve(guest_instance):
    inst = guest_instance("max-connections = 10\n")
    with guest_holding(open_connections(socket_path(inst), 15)) as report:
        assert report["ok"] == 10
        assert all("too many connections to this instance" in text
                   for text in report["refused"])
        assert inst.corral("jobs", timeout=10).returncode == 0


def _refusal_of_rpc(client):
    try:
        client.rpc("instance.info")
    except OSError as exc:
        return exc.strerror
    return "accepted"


def test_a_job_started_when_file_descriptors_run_out_fails_instead_of_hanging(make_instance):
    inst = make_instance()
    # The node agent process opens a task's pipes and pidfd.
    [pid_file] = pathlib.Path(inst.state_dir, "agents").glob("*.pid")
    pid = int(pid_file.read_text())
    inst.wait_inactive(inst.submit("true"))  # the agent has what it keeps open
    with inst.client() as client:
        open_now = len(os.listdir(f"/proc/{pid}/fd"))
        subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={open_now}:"], check=True)
        try:
            job_id = client.submit(jobspec.build(["true"]))
            exception = client.wait_event(job_id, "exception", 10)
            client.wait_event(job_id, "clean", 10)
        finally:
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={hard}:"], check=True)
        assert client.job(job_id)["result_name"] == "FAILED"
    assert "Too many open files" in exception["context"]["note"]
    inst.wait_inactive(inst.submit("true"))


def test_a_guest_pipelining_thousands_of_requests_does_not_starve_others(guest_instance):
    inst = guest_instance()
    spec = jobspec.build(["true"], setattr=["exec.test.run_duration=0"], cwd="/tmp")
    as_guest(inst.uri, lambda guest: len(guest.submit_many([spec] * 1000)))
    with inst.client() as client:
        client.rpc("job-manager.queue-drain", timeout=60)
        baseline = _list_latency(client, 5)
        frames = [_frame(tag, "job-list.list", {"states": 127}) for tag in range(1, 2001)]
        with guest_holding(send_without_reading(socket_path(inst), *frames)):
            time.sleep(0.3)  # the guest's requests are queued now
            under_attack = _list_latency(client, 20)
    assert max(under_attack) < max(1.0, 10 * max(baseline)), (baseline, under_attack)


def _list_latency(client, count) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.monotonic()
        client.rpc("job-list.list", {"userid": -1, "states": 127}, timeout=60)
        latencies.append(time.monotonic() - started)
    return latencies


def test_attaching_a_huge_output_without_reading_it_keeps_the_controller_small(
        guest_instance):
    inst = guest_instance()
    size = 150 << 20
    job_id = as_guest(inst.uri, lambda client: client.submit(jobspec.build(
        ["sh", "-c", f"head -c {size} /dev/zero | tr '\\\\0' x"], cwd="/tmp")))
    inst.wait_inactive(job_id, timeout=60)
    before = controller_rss(inst)
    attach = _frame(1, "job-info.output", {"id": job_id}, streaming=True)
    with guest_holding(send_without_reading(socket_path(inst), attach)):
        time.sleep(1.5)
        grown = controller_rss(inst) - before
        assert inst.corral("jobs", timeout=10).returncode == 0
    assert grown < 40 << 20, f"the controller grew by {grown >> 20} MiB"


def test_unfinished_huge_frames_on_many_connections_do_not_fill_memory(guest_instance):
    """Frames over the request limit are skipped unread; frames just under it, left
    unfinished on many connections, are held only up to the per-user cap."""
    inst = guest_instance()
    before = controller_rss(inst)
    connections = 32  # 32 frames of 4 MiB, twice the 64 MiB a user's unfinished frames may hold
    header = struct.pack(">I", MAX_REQUEST_FRAME)
    chunk = b" " * (1 << 20)

    def send_unfinished_frames():
        sent = []
        for _ in range(connections):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(socket_path(inst))
            sock.settimeout(0.2)
            _HELD.append(sock)
            total = 0
            try:
                sock.sendall(header)
                for _ in range(MAX_REQUEST_FRAME // len(chunk) - 1):
                    sock.sendall(chunk)
                    total += len(chunk)
            except TimeoutError:
                pass  # the controller stopped reading this connection
            sent.append(total >> 20)
        return sent

    with guest_holding(send_unfinished_frames) as sent:
        time.sleep(0.5)
        grown = controller_rss(inst) - before
        assert inst.corral("jobs", timeout=10).returncode == 0
    full = MAX_REQUEST_FRAME // len(chunk) - 1
    assert sum(sent) < connections * full, sent  # some were not read
    assert grown < 100 << 20, f"the controller grew by {grown >> 20} MiB ({sent} MiB sent)"


def test_waits_of_clients_that_went_away_are_dropped(guest_instance):
    inst = guest_instance()
    job_id = as_guest(inst.uri, lambda client: client.submit(
        jobspec.build(["sleep", "300"], cwd="/tmp")))
    waits = b"".join(_frame(tag, "job-manager.wait", {"id": job_id}) for tag in range(1, 1001))

    def wait_and_leave():
        for _ in range(40):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(socket_path(inst))
            sock.sendall(waits + _frame(1001, "instance.info"))
            _answer(sock)  # the waits before it were served: they are registered
            sock.close()
        return True

    grown = []
    for _ in range(3):
        before = controller_rss(inst)
        as_guest(inst.uri, lambda _client: wait_and_leave())
        with inst.client() as client:
            client.rpc("instance.info")
        grown.append(controller_rss(inst) - before)
    assert sum(grown) < 60 << 20, [size >> 20 for size in grown]
    with inst.client() as client:
        client.cancel(job_id)
        client.wait_event(job_id, "clean", 10)
