"""The controller's side of node agents in other processes: one per declared node.

Each node of ``[[resource.config]]`` is served by the agent that registers with its hostname
(any other hostname is refused, with the reason both ends log); until then, and whenever its
agent falls silent, the node is down: drained with a reason (``corral resource list`` shows
it) so that nothing new is placed there.  A node whose agent is lost, or comes back as a new
process (a new boot id: its tasks are gone), fails the jobs that ran there (`Exec.node_failed`).
A node returns to service when its agent is heard again, unless something else (an operator,
a failed prolog) drained it meanwhile.  What is sent to a node whose agent has not registered
(an operator undrained it, or its jobs were taken back at a restart) waits for the agent; an
agent that has not registered ``lost_after`` seconds after the controller started is lost
like one that fell silent, and the jobs that ran there fail.

Answers from an agent carry the rank of the node it registered as, whatever it says: an
agent speaks for its own node only.
"""

import asyncio
import logging
import time

from ..transport import ControllerTransport
from . import forward, logs

log = logging.getLogger("corral.agent")

NOT_REGISTERED = "agent not registered"
NOT_RESPONDING = "not responding"
LOST = "node lost"
#: Reasons this module gives; a node drained with one of them at start (drains are stored
#: with the others) is down only until its agent registers.
DOWN_REASONS = frozenset({NOT_REGISTERED, NOT_RESPONDING, LOST})


class RemoteNodes:
    def __init__(self, endpoint: str, key_dir: str, settings, pool, scheduler, credential_key,
                 on_message, on_node_failed, after_commit, broker=None):
        """``on_message(msg)`` gets each agent answer (its ``rank`` set from its sender);
        ``on_node_failed(rank, note)`` is called when a node's tasks are gone;
        ``after_commit`` is the store's: an answer is acknowledged to its agent, which keeps
        it until then, only once what it did is stored; ``broker`` serves the requests of the
        agents' local clients (`forward`)."""
        self.pool = pool
        self.scheduler = scheduler
        self.on_message = on_message
        self.on_node_failed = on_node_failed
        self.ranks = {node.name: node.rank for node in pool.nodes}
        #: Ranks whose agent has registered with this controller.
        self.registered: set[int] = set()
        #: rank -> the reason this node is down (the drain reason it was given).
        self.down: dict[int, str] = {}
        self.transport = ControllerTransport(
            endpoint, key_dir, settings=settings, credential_secret=credential_key.secret,
            on_message=self._message, on_register=self._register, on_state=self._state,
            after_commit=after_commit)
        self.channels = [self.transport.channel(node.name) for node in pool.nodes]
        self.forwarded = forward.Forwarded(broker, self.transport.send) \
            if broker is not None else None

    async def start(self):
        """Listen for agents; every node is down until its agent registers."""
        for rank in range(len(self.pool.nodes)):
            self._set_down(rank, NOT_REGISTERED)
        await self.transport.start()
        for node in self.pool.nodes:
            self.transport.expect(node.name)

    async def until_registered(self, timeout: float) -> bool:
        """Wait until every node's agent has registered, ``timeout`` seconds at most; whether
        they all have."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.registered) < len(self.pool.nodes):
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def close(self):
        await self.transport.close()

    def _message(self, hostname: str, msg: dict):
        if msg["type"] == "log":
            logs.relog(hostname, msg)
            return
        if msg["type"] in ("rpc", "rpc-close"):
            if self.forwarded is not None:
                self.forwarded.handle(hostname, msg)
            return
        rank = msg["rank"] = self.ranks[hostname]
        if msg["type"] == "held":
            # What the jobs taken back at restart that this agent lacks end with.
            msg["note"] = (f"the agent of node {hostname} (rank {rank}) restarted"
                           if msg.get("fresh") is True else
                           f"node {hostname} (rank {rank}) no longer has the job's tasks")
        self.on_message(msg)

    def _register(self, registration, event: str) -> str | None:
        rank = self.ranks.get(registration.hostname)
        if rank is None:
            return (f"hostname {registration.hostname} is not one of the nodes declared in "
                    "[[resource.config]]")
        if event == "restarted":
            self._clients_gone(registration.hostname)
            self.on_node_failed(rank, f"the agent of node {registration.hostname} (rank "
                                      f"{rank}) restarted")
        self.registered.add(rank)
        self._set_up(rank)
        return None

    def _state(self, hostname: str, state: str):
        rank = self.ranks[hostname]
        if rank not in self.registered:
            if state == "lost":
                self.on_node_failed(rank, f"node {hostname} (rank {rank}) lost: its agent has "
                                          "not registered since the controller started")
            return  # it stays down as not registered
        if state == "alive":
            self._set_up(rank)
        elif state == "unresponsive":
            self._set_down(rank, NOT_RESPONDING)
        else:
            self._set_down(rank, LOST)
            self._clients_gone(hostname)
            self.on_node_failed(rank, f"node {hostname} (rank {rank}) lost: its agent fell "
                                      "silent")

    def _clients_gone(self, hostname: str):
        if self.forwarded is not None:
            self.forwarded.drop(hostname)

    def _set_down(self, rank: int, reason: str):
        node = self.pool.nodes[rank]
        if node.drained and node.drain_reason not in DOWN_REASONS:
            return  # drained for another reason: that one stays
        self.down[rank] = reason
        self.pool.drain(rank, reason, time.time())

    def _set_up(self, rank: int):
        reason = self.down.pop(rank, None)
        node = self.pool.nodes[rank]
        if reason is not None and node.drained and node.drain_reason == reason:
            self.pool.undrain(rank)
            self.scheduler.resources_changed()
