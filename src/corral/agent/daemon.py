"""The ``corral agent`` process: one node's `NodeAgent`, reached over the transport.

The node agent is the same one the controller runs in-process: the transport hands it the
controller's messages and carries its answers back.  Its rank is the controller's business
(the controller names the rank of each answer from the hostname the agent registered as), and
the key that signs launch credentials comes with each welcome, so an agent accepts work only
from the controller that is running now; a controller that restarts cannot take back the
jobs the last one started (they end with an exception at its start), so their tasks are
killed when it welcomes the agent.  It runs the PrEp node hooks of ``prep`` (`agent.prep`:
the agent's own configuration), and what it logs reaches the controller's log too
(`agent.logs`); with a socket path it serves the node's ``corral`` commands
(`agent.forward`).  It stops, killing its tasks, on SIGTERM or SIGINT, or when the
controller refuses it.
"""

import asyncio
import logging
import signal

from ..exec.agent import NodeAgent
from ..prep.cred import CredentialKey
from ..transport import AgentTransport, Settings, this_node
from . import forward, logs

log = logging.getLogger("corral.agent")


async def run(endpoint: str, key_dir: str, hostname: str | None, settings: Settings,
              prep=None, socket_path: str | None = None) -> int:
    """Serve as node ``hostname`` (default: this machine's) until told to stop, running the
    node hooks of ``prep`` (a `PrepHost`, or None for none) and forwarding the requests of
    local commands that connect at ``socket_path`` (`agent.forward`); the exit status (1
    when the controller refused this agent)."""
    loop = asyncio.get_running_loop()
    registration = this_node(hostname)
    stopped = loop.create_future()
    transport = None
    node = NodeAgent(loop, None, registration.hostname, lambda msg: transport.send(msg), prep)

    def welcomed(credential: bytes | None):
        # A new controller signs with a new key: credentials of the last one are refused,
        # and the jobs it started here are not the new one's.
        if node.key is not None and node.key.secret != credential:
            if node.jobs:
                log.warning("agent %s: a new controller: killing the tasks of %d jobs the "
                            "last one started", registration.hostname, len(node.jobs))
            node.abandon_all()
        node.key = CredentialKey(credential) if credential is not None else None

    local = forward.LocalSocket(socket_path, lambda msg: transport.send(msg)) \
        if socket_path is not None else None

    def route(msg: dict):
        if msg["type"] == "rpc-reply":
            if local is not None:
                local.reply(msg)
        else:
            node.handle(msg)

    def refused(reason: str):
        if not stopped.done():
            stopped.set_result(1)

    transport = AgentTransport(endpoint, key_dir, registration, on_message=route,
                               on_refused=refused, on_welcome=welcomed, settings=settings)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stopped.done() or stopped.set_result(0))
    if local is not None:
        try:
            await local.start()
        except OSError as exc:
            raise ValueError(f"--socket {socket_path}: {exc.strerror or exc}") from None
    await transport.start()
    forwarder = logs.Forwarder(loop, transport.send)
    logging.getLogger("corral").addHandler(forwarder)
    log.info("agent %s connecting to %s", registration.hostname, transport.endpoint)
    try:
        return await stopped
    finally:
        node.kill_all(signal.SIGKILL)
        logging.getLogger("corral").removeHandler(forwarder)
        if prep is not None:
            prep.fini()  # kills the hook scripts still running
        if local is not None:
            await local.close()
        await transport.close()
