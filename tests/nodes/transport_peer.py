"""A transport end for the network tests: ``transport_peer.py controller|agent OPTIONS``.

It runs a `ControllerTransport` or an `AgentTransport` and speaks JSON lines: commands on
stdin (``{"send": N, "first": K, "to": HOST, "pace": SECONDS}`` sends N numbered messages,
jobs K..K+N-1), events on stdout (``{"registered": HOST, "event": ...}``, ``{"state": ...}``,
``{"message": JOB}``, ``{"refused": REASON}``), the transport's log on stderr.
"""

import argparse
import asyncio
import dataclasses
import json
import logging
import sys

from corral.transport import AgentTransport, ControllerTransport, Settings, this_node


def emit(**event):
    print(json.dumps(event), flush=True)


async def send_burst(send, count, first, pace, make):
    for job in range(first, first + count):
        send(make(job))
        if pace:
            await asyncio.sleep(pace)
    emit(sent=count)


async def main(args) -> int:
    settings = Settings(args.interval, args.unresponsive, args.lost, reconnect_min=0.05,
                        reconnect_max=args.reconnect_max)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    if args.role == "controller":
        transport = ControllerTransport(
            args.endpoint, args.key_dir, settings=settings,
            on_message=lambda host, msg: emit(message=msg["job"], host=host),
            on_register=lambda registration, event: emit(
                registered=registration.hostname, event=event, cores=len(registration.cores)),
            on_state=lambda host, state: emit(state=state, host=host))
        await transport.start()

        def send(command):
            return send_burst(lambda msg: transport.send(command["to"], msg),
                              command["send"], command.get("first", 1), command.get("pace"),
                              lambda job: {"type": "kill", "job": job, "signal": 0})
    else:
        registration = this_node(args.hostname)
        if args.version:
            registration = dataclasses.replace(registration, version=args.version)

        def refused(reason):
            emit(refused=reason)
            done.set_result(1)

        transport = AgentTransport(
            args.endpoint, args.key_dir, registration, settings=settings,
            on_message=lambda msg: emit(message=msg["job"]),
            on_state=lambda state: emit(state=state), on_refused=refused)
        await transport.start()

        def send(command):
            return send_burst(transport.send, command["send"], command.get("first", 1),
                              command.get("pace"),
                              lambda job: {"type": "finished", "job": job, "rank": 0,
                                           "status": 0, "started": True})
    emit(ready=transport.endpoint)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    bursts = set()

    async def commands():
        while line := await reader.readline():
            task = loop.create_task(send(json.loads(line)))
            bursts.add(task)
            task.add_done_callback(bursts.discard)
        if not done.done():
            done.set_result(0)

    reading = loop.create_task(commands())
    status = await done
    reading.cancel()
    await transport.close()
    return status


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["controller", "agent"])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--key-dir", required=True)
    parser.add_argument("--hostname")
    parser.add_argument("--version", help="announce this version instead of corral's")
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--unresponsive", type=float, default=1.5)
    parser.add_argument("--lost", type=float, default=3.0)
    parser.add_argument("--reconnect-max", type=float, default=0.5)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(name)s: %(levelname)s: %(message)s")
    sys.exit(asyncio.run(main(arguments)))
