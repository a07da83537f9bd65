"""Round trip and message rate of the controller ⇄ agent transport, against a plain local
socket pair measured in the same run.

The controller's end runs in this process and an echo agent in a child process: every
``kill`` the controller sends is answered by a ``finished`` for the same job.  Measured over
``ipc://`` and over ``tcp://127.0.0.1`` (CURVE on both), and over the baseline: an AF_UNIX
socket pair between the same two processes with length-prefixed JSON frames and the same
JSON work per message, without numbering, acknowledgements, heartbeats or encryption.

* round trip: one message out, wait for its answer, again (median and p95);
* rate: a burst of messages sent at once, until the last answer (messages each way per
  second), and the controller process's CPU time per message (both directions);

reported as ratios to the baseline.  No targets: the figures say what the transport costs.
With ``--environment`` every request carries this process's environment, as a start request
carries its job's (which the transport sends once, then by number: `transport.shared`).
"""

import argparse
import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

from corral import jsoncodec  # noqa: E402

HOSTNAME = "bench-agent"
LENGTH = struct.Struct("!I")


#: With ``--environment``, every request carries this process's environment, as a job's
#: start does (a copy each time, as the exec service makes one for every job).
ENVIRONMENT = None


def request(job: int) -> dict:
    if ENVIRONMENT is not None:
        return {"type": "kill", "job": job, "signal": 15, "env": dict(ENVIRONMENT)}
    return {"type": "kill", "job": job, "signal": 15}


def answer(message: dict) -> dict:
    return {"type": "finished", "job": message["job"], "rank": 0, "status": 0,
            "started": True}


class Answers:
    """Counts answers and wakes whoever waits for the n-th."""

    def __init__(self, loop):
        self.loop = loop
        self.count = 0
        self.target = 0
        self.waiter = None

    def arrived(self, *_):
        self.count += 1
        if self.waiter is not None and self.count >= self.target:
            self.waiter.set_result(None)
            self.waiter = None

    async def until(self, count: int):
        if self.count < count:
            self.target = count
            self.waiter = self.loop.create_future()
            await self.waiter


async def measure(send, answers: Answers, round_trips: int, burst: int) -> dict:
    times = []
    for job in range(round_trips):
        started = time.perf_counter()
        send(request(job))
        await answers.until(answers.count + 1)
        times.append(time.perf_counter() - started)
    first = answers.count
    cpu, wall = time.process_time(), time.perf_counter()
    for job in range(burst):
        send(request(job))
    await answers.until(first + burst)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"rtt_median": common.median(times), "rtt_p95": common.p95(times),
            "rate": burst / wall, "cpu_per_message": cpu / burst}


# --- the transport ------------------------------------------------------------------------


async def over_transport(endpoint: str, key_dir: str, round_trips: int, burst: int) -> dict:
    from corral.transport import ControllerTransport

    loop = asyncio.get_running_loop()
    answers = Answers(loop)
    registered = loop.create_future()

    def on_register(registration, event):
        if not registered.done():
            registered.set_result(None)

    controller = ControllerTransport(endpoint, key_dir, on_message=answers.arrived,
                                     on_register=on_register)
    bound = await controller.start()
    agent = subprocess.Popen([sys.executable, __file__, "--echo-agent", bound, key_dir],
                             stdin=subprocess.PIPE)
    try:
        await asyncio.wait_for(registered, 20)
        return await measure(lambda message: controller.send(HOSTNAME, message), answers,
                             round_trips, burst)
    finally:
        agent.stdin.close()
        agent.wait(10)
        await controller.close()


async def echo_agent(endpoint: str, key_dir: str):
    from corral.transport import AgentTransport, this_node

    transport = None

    def echo(message):
        transport.send(answer(message))

    transport = AgentTransport(endpoint, key_dir, this_node(HOSTNAME), on_message=echo)
    await transport.start()
    await stdin_closed()
    await transport.close()


async def stdin_closed():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()


# --- the baseline: a plain socket pair -----------------------------------------------------


def frame(message: dict) -> bytes:
    data = jsoncodec.dumps(message).encode()
    return LENGTH.pack(len(data)) + data


async def read_frames(reader, handle):
    while True:
        try:
            header = await reader.readexactly(LENGTH.size)
            data = await reader.readexactly(LENGTH.unpack(header)[0])
        except asyncio.IncompleteReadError:
            return
        handle(json.loads(data))


async def over_socket_pair(round_trips: int, burst: int) -> dict:
    loop = asyncio.get_running_loop()
    answers = Answers(loop)
    ours, theirs = socket.socketpair()
    child = subprocess.Popen([sys.executable, __file__, "--echo-socket",
                              str(theirs.fileno())], pass_fds=[theirs.fileno()])
    theirs.close()
    reader, writer = await asyncio.open_unix_connection(sock=ours)
    reading = loop.create_task(read_frames(reader, answers.arrived))
    try:
        return await measure(lambda message: writer.write(frame(message)), answers,
                             round_trips, burst)
    finally:
        writer.close()
        await reading
        child.wait(10)


async def echo_socket(fd: int):
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=fd))
    await read_frames(reader, lambda message: writer.write(frame(answer(message))))
    writer.close()


# --- the report ---------------------------------------------------------------------------


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("--echo-agent", nargs=2, metavar=("ENDPOINT", "KEYDIR"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--echo-socket", type=int, metavar="FD", help=argparse.SUPPRESS)
    parser.add_argument("--environment", action="store_true",
                        help="every request carries this process's environment, as a start "
                             "carries its job's")
    args = parser.parse_args()
    if args.environment:
        global ENVIRONMENT
        ENVIRONMENT = dict(os.environ)
    if args.echo_agent:
        asyncio.run(echo_agent(*args.echo_agent))
        return 0
    if args.echo_socket is not None:
        asyncio.run(echo_socket(args.echo_socket))
        return 0
    from corral.transport import keys

    round_trips, burst = (200, 2_000) if args.quick else (2_000, 20_000)
    report = common.Report("transport", args)
    with common.WorkDir(args, "transport") as work:
        key_dir = os.path.join(work.path, "keys")
        keys.create(key_dir, [HOSTNAME])
        runs = {
            "socket pair": asyncio.run(over_socket_pair(round_trips, burst)),
            "ipc": asyncio.run(over_transport(f"ipc://{work.path}/agents.sock", key_dir,
                                              round_trips, burst)),
            "tcp": asyncio.run(over_transport("tcp://127.0.0.1:0", key_dir, round_trips,
                                              burst)),
        }
    baseline = runs["socket pair"]
    for name, run in runs.items():
        report.section(f"{name} ({round_trips:,} round trips, burst of {burst:,})")
        report.figure(f"{name}: round trip, median", run["rtt_median"] * 1e6, "µs")
        report.figure(f"{name}: round trip, p95", run["rtt_p95"] * 1e6, "µs")
        report.figure(f"{name}: messages each way", run["rate"], "msg/s")
        report.figure(f"{name}: controller CPU per message", run["cpu_per_message"] * 1e6,
                      "µs")
        if run is not baseline:
            report.figure(f"{name}: round trip / socket pair's",
                          run["rtt_median"] / baseline["rtt_median"], "×")
            report.figure(f"{name}: rate / socket pair's", run["rate"] / baseline["rate"], "×")
    return report.finish()


if __name__ == "__main__":
    sys.exit(common.run(main))
