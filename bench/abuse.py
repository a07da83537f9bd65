"""Service for everyone while one guest abuses the controller (the broker's limits and turns).

An instance that lets guests in holds N jobs of an unprivileged guest (simulated, inactive)
and one job of the guest's that wrote a large output.  Then the guest, as a real process of
that uid, attacks on every front at once:

* it opens connections until it is refused (``[access] max-connections-per-user``);
* on 8 of them it pipelines 2,000 ``job-list.list`` calls each (every answer lists its N jobs)
  and never reads an answer;
* on another it attaches to its large output (``job-info.output``) and never reads it.

Meanwhile the owner (another user) asks for its ``corral jobs`` listing (the same
``job-list.list`` call the command makes) every 20 ms, and the controller's memory is read
from ``/proc``.  Baseline: the same listing before the attack, in the same run.

Targets: the other user's listing answers within 200 ms at the 99th percentile, and the
controller's resident memory stays under 500 MB.
"""

import json
import os
import pwd
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

from corral import jobspec  # noqa: E402
from corral.client import Client  # noqa: E402

GUEST = "corral-guest"
PIPELINED = 2000
PIPELINING_CONNECTIONS = 8


def guest_user():
    try:
        return pwd.getpwnam(GUEST)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", GUEST],
                       check=True)
        return pwd.getpwnam(GUEST)


def frame(tag: int, topic: str, payload=None, streaming=False) -> bytes:
    request = {"topic": topic, "matchtag": tag, "payload": payload}
    if streaming:
        request["streaming"] = True
    body = json.dumps(request).encode()
    return struct.pack(">I", len(body)) + body


def as_guest(function):
    """Fork a child that becomes the guest and runs ``function(report)``; ``report(obj)``
    sends one JSON line back.  Returns ``(pid, lines)``."""
    user = guest_user()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
        try:
            function(lambda obj: os.write(write_fd, (json.dumps(obj) + "\n").encode()))
        finally:
            os._exit(0)
    os.close(write_fd)
    return pid, os.fdopen(read_fd)


def attack(path: str, output_job: int, report):
    held = []
    refusal = None
    while refusal is None:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        try:
            sock.sendall(frame(1, "instance.info"))
            header = sock.recv(4)
            answer = json.loads(sock.recv(struct.unpack(">I", header)[0], socket.MSG_WAITALL))
        except (OSError, struct.error) as exc:
            refusal = str(exc)
            break
        if "errnum" in answer:
            refusal = answer["errstr"]
        else:
            held.append(sock)
    requests = b"".join(frame(tag, "job-list.list", {"states": 127})
                        for tag in range(2, PIPELINED + 2))
    for sock in held[:PIPELINING_CONNECTIONS]:
        sock.setblocking(False)
        try:
            sock.send(requests)  # as much as the socket takes; the rest is never sent
        except BlockingIOError:
            pass
    held[PIPELINING_CONNECTIONS].sendall(
        frame(2, "job-info.output", {"id": output_job}, streaming=True))
    report({"connections": len(held), "refusal": refusal})
    time.sleep(3600)


def listing_latencies(client: Client, count: int, interval: float) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        client.jobs()
        latencies.append(time.perf_counter() - started)
        time.sleep(interval)
    return latencies


def p99(values) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=None, help="the guest's jobs (5,000)")
    parser.add_argument("--output-mib", type=int, default=None,
                        help="size of the guest's large output (1,024 MiB)")
    args = parser.parse_args()
    njobs = args.jobs or (500 if args.quick else 5000)
    output_mib = args.output_mib or (64 if args.quick else 1024)
    samples = 50 if args.quick else 300
    report = common.Report("abuse", args)

    with common.WorkDir(args, "abuse") as work:
        os.chmod(work.path, 0o755)
        config = os.path.join(work.path, "guest.toml")
        with open(config, "w") as file:
            file.write("[access]\nallow-guest-user = true\n")
        state = work.sub("state")
        controller = common.Controller(state, config)
        controller.start()
        os.chmod(state, 0o755)
        attacker = None
        try:
            path = controller.uri.removeprefix("local://")
            common.log(args, f"the guest submits {njobs} jobs and one of {output_mib} MiB "
                             "of output")
            spec = jobspec.build(["true"], setattr=common.SIMULATED, cwd="/tmp")
            big = jobspec.build(["sh", "-c", f"head -c {output_mib << 20} /dev/zero | "
                                             "tr '\\0' x"], cwd="/tmp")
            pid, lines = as_guest(lambda send: send(_submit(path, spec, njobs, big)))
            output_job = json.loads(lines.readline())["output_job"]
            os.waitpid(pid, 0)
            with controller.client() as client:
                client.wait_event(output_job, "clean", 600)
                client.rpc("job-manager.queue-drain", timeout=600)
                baseline = listing_latencies(client, 20, 0.02)
                report.section("the owner's listing, before the attack")
                report.figure("median", common.median(baseline) * 1e3, "ms")
                report.figure("p99", p99(baseline) * 1e3, "ms")
                rss_before = controller.memory_kib()["VmRSS"] * 1024

                attacker, lines = as_guest(lambda send: attack(path, output_job, send))
                held = json.loads(lines.readline())
                report.section(f"the guest: {held['connections']} connections held, then "
                               f"refused ({held['refusal']}); {PIPELINED} pipelined listings "
                               f"on {PIPELINING_CONNECTIONS} of them; one attach to "
                               f"{output_mib} MiB; nothing read")
                under_attack = []
                peak_rss = rss_before
                for _ in range(samples // 10):
                    under_attack += listing_latencies(client, 10, 0.02)
                    peak_rss = max(peak_rss, controller.memory_kib()["VmRSS"] * 1024)
            report.section("the owner's listing, under attack")
            report.figure("median", common.median(under_attack) * 1e3, "ms")
            report.figure("p99", p99(under_attack) * 1e3, "ms")
            report.figure("max", max(under_attack) * 1e3, "ms")
            report.figure("controller RSS before", rss_before / 1e6, "MB")
            report.figure("controller RSS peak under attack", peak_rss / 1e6, "MB")
            report.target("listing p99 under attack < 200 ms", p99(under_attack) < 0.2,
                          f"{p99(under_attack) * 1e3:.1f} ms")
            report.target("controller memory < 500 MB", peak_rss < 500e6,
                          f"{peak_rss / 1e6:.0f} MB")
        finally:
            if attacker is not None:
                os.kill(attacker, signal.SIGKILL)
                os.waitpid(attacker, 0)
            controller.stop()
    return report.finish()


def _submit(path: str, spec: dict, count: int, big: dict) -> dict:
    with Client(f"local://{path}") as client:
        client.submit_many([spec] * count)
        return {"output_job": client.submit(big)}


if __name__ == "__main__":
    sys.exit(common.run(main))
