"""The ``corral agent`` process: one node's `NodeAgent`, reached over the transport.

The node agent is the same one the controller runs in-process: the transport hands it the
controller's messages and carries its answers back.  Its rank is the controller's business
(the controller names the rank of each answer from the hostname the agent registered as), and
the key that signs launch credentials comes with each welcome, so an agent accepts work only
from the controller that is running now.

Tasks outlive the controller: while it is away they run on, and what they report waits in the
transport until a controller acknowledges it.  Each controller that welcomes the agent is told
which jobs and job steps it holds (``held``), after what it had not acknowledged, so that a
restarted controller takes the running jobs and steps back, records those that ended
meanwhile, and ends those this agent no longer has.  An agent that hears no controller for
``reattach_timeout`` seconds kills its tasks (`watch_controller`): nobody would record their
results.

It runs the PrEp node hooks of ``prep`` (`agent.prep`: the agent's own configuration), and
what it logs reaches the controller's log too (`agent.logs`); with a socket path it serves the
node's ``corral`` commands (`agent.forward`).  It stops, killing its tasks, on SIGTERM or
SIGINT, or when the controller refuses it.
"""

import asyncio
import logging
import signal

from ..exec import launch
from ..exec.agent import NodeAgent
from ..prep.cred import CredentialKey
from ..transport import AgentTransport, Settings, this_node
from . import forward, logs

log = logging.getLogger("corral.agent")


#: Seconds without any controller after which an agent kills its tasks (``[agents]
#: reattach-timeout``, ``corral agent --reattach-timeout``).
REATTACH_TIMEOUT = 300.0


async def run(endpoint: str, key_dir: str, hostname: str | None, settings: Settings,
              prep=None, socket_path: str | None = None,
              reattach_timeout: float = REATTACH_TIMEOUT, exit_alone: bool = False) -> int:
    """Serve as node ``hostname`` (default: this machine's) until told to stop, running the
    node hooks of ``prep`` (a `PrepHost`, or None for none) and forwarding the requests of
    local commands that connect at ``socket_path`` (`agent.forward`); the exit status (1
    when the controller refused this agent).  ``exit_alone``: also stop once no controller
    was heard for ``reattach_timeout`` and no task is left (the agents a persistent instance
    starts: its next controller starts its own)."""
    loop = asyncio.get_running_loop()
    launch.raise_open_file_limit()
    registration = this_node(hostname)
    stopped = loop.create_future()
    transport = None
    node = NodeAgent(loop, None, registration.hostname, lambda msg: transport.send(msg), prep)

    def welcomed(credential: bytes | None):
        report_held(node, transport, credential)

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
    on_alone = (lambda: stopped.done() or stopped.set_result(0)) if exit_alone else None
    watch = loop.create_task(watch_controller(node, transport, reattach_timeout, on_alone))
    try:
        return await stopped
    finally:
        watch.cancel()
        node.kill_all(signal.SIGKILL)
        logging.getLogger("corral").removeHandler(forwarder)
        if prep is not None:
            prep.fini()  # kills the hook scripts still running
        if local is not None:
            await local.close()
        await transport.close()


def report_held(node: NodeAgent, transport: AgentTransport, credential: bytes | None):
    """A controller welcomes the agent: when it is a new one (it signs with a new key, and
    credentials of the last one are refused), tell it which jobs this node holds.  The
    message goes out after everything the last controller did not acknowledge, so the new
    one has applied those ends before it reads what is still held.  ``fresh``: this agent
    never served another controller (it started while none ran, or restarted)."""
    if node.key is not None and node.key.secret == credential:
        return  # the same controller, reconnected: it knows what runs here
    fresh = node.key is None
    node.key = CredentialKey(credential) if credential is not None else None
    jobs, steps = node.job_ids(), node.step_keys()
    if jobs:
        log.info("agent %s: a new controller: it takes back the %d jobs (and %d steps) "
                 "running here", node.name, len(jobs), len(steps))
    transport.send({"type": "held", "jobs": jobs, "steps": steps, "fresh": fresh})


async def watch_controller(node: NodeAgent, transport: AgentTransport, timeout: float,
                           on_alone=None):
    """Kill the tasks once no controller has been heard for ``timeout`` seconds: their
    results would reach nobody.  Their ends are kept for a controller that comes later.
    ``on_alone()`` is called when no task is left then."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(min(timeout / 4, transport.settings.heartbeat_interval))
        silence = loop.time() - transport.link.liveness.last_heard
        if silence < timeout or transport.welcomed:
            continue
        if node.jobs:
            log.warning("agent %s: no controller for %.0f s (reattach-timeout): killing the "
                        "tasks of %d jobs", node.name, silence, len(node.jobs))
            node.kill_all(signal.SIGKILL)
        elif on_alone is not None:
            log.warning("agent %s: no controller for %.0f s (reattach-timeout): exiting",
                        node.name, silence)
            on_alone()
