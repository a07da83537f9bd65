"""The controller's end of the transport: one ROUTER socket that every agent connects to.

It authenticates agents by their CURVE keys (pyzmq's ZAP authenticator, fed from the key
directory), registers them by hostname, numbers what it sends each one and replays what was
not acknowledged when the agent comes back, applies each agent's messages once and in order,
answers heartbeats, and says when an agent turns unresponsive, lost, or alive again.

The exec service sees three callbacks and one way to send:

* ``on_register(registration, event) -> None | reason``: an agent said hello; ``event`` is
  ``"registered"`` (first time), ``"reconnected"`` (same boot id: nothing was lost) or
  ``"restarted"`` (new boot id: its tasks are gone, and messages it had not acknowledged are
  dropped).  A returned reason refuses it; both ends log the reason.  A boot that another
  boot of its node replaced is refused for good: it is a second agent claiming the node (a
  restart always has a new boot id), and taking it back would make the two replace each
  other at every heartbeat, each time failing the node's jobs.
* ``on_message(hostname, message)``: an agent's exec message (``started``, ``finished``, ...),
  applied exactly once while the controller runs.
* ``on_state(hostname, state)``: ``"unresponsive"``, ``"lost"``, or ``"alive"`` again
  (not called for the first registration, which ``on_register`` reports).
* ``send(hostname, message)`` / ``channel(hostname).send(message)``: ``start``, ``kill``,
  ``prolog``, ``epilog``, delivered once and in order to that agent's current boot.
* ``expect(hostname)``: an agent should register as ``hostname``.  Until it does, what is
  sent to it waits for it, and its silence counts from now: it turns unresponsive, then lost,
  as a registered agent that fell silent would.

It never interprets an exec message beyond its type and job id.
"""

import asyncio
import logging
import uuid

import zmq
import zmq.asyncio
from zmq.auth.asyncio import AsyncioAuthenticator

from .. import __version__
from . import frames, sockets
from .keys import ControllerKeys, KeyMaterialError
from .link import Link
from .registration import Registration
from .sequence import Inbox
from .settings import Settings

log = logging.getLogger("corral.transport")

ZAP_DOMAIN = "corral-agents"
#: Seconds an acknowledgement waits for a frame to the agent to carry it, as TCP delays an
#: ACK: in a busy instance the next start carries it, and an agent is not woken for a frame
#: that says nothing else (more than half the frames it got before).  An agent keeps what is
#: unacknowledged meanwhile and would replay it, applied once, after a reconnect.
ACK_DELAY = 0.02
#: Messages stored and not acknowledged after which the acknowledgement goes at once.
ACK_NOW = 256


class AgentKeyAuthenticator(AsyncioAuthenticator):
    """pyzmq's ZAP authenticator, accepting only the agent keys of the key directory; the
    ZAP User-Id of a connection is the node name its key belongs to."""

    def __init__(self, context, keys: ControllerKeys):
        super().__init__(context)
        self.keys = keys
        self.address = "?"
        self.configure_curve_callback(ZAP_DOMAIN, credentials_provider=self)

    async def handle_zap_message(self, msg):
        # The request's address frame, remembered for the refusal's log line.
        self.address = msg[3].decode(errors="replace") if len(msg) > 3 else "?"
        await super().handle_zap_message(msg)

    def callback(self, domain, key: bytes) -> bool:
        try:
            accepted = self.keys.accepted()
        except KeyMaterialError as exc:
            log.error("transport: refused a connection from %s: %s", self.address, exc)
            return False
        if key not in accepted:
            log.warning("transport: refused a connection from %s: its key is not among the "
                        "agent keys in %s", self.address, self.keys.agents_dir)
            return False
        return True

    def curve_user_id(self, client_public_key: bytes) -> str:
        # "" if the key was removed since `callback` accepted it: registration then fails.
        return self.keys.accepted().get(zmq.utils.z85.encode(client_public_key), "")


class Peer:
    """An agent: its registration (None while it is only expected), its link, and its
    current connection."""

    __slots__ = ("hostname", "registration", "link", "routing_id")

    def __init__(self, hostname, registration, link):
        self.hostname = hostname
        self.registration = registration
        self.link = link
        self.routing_id = None


class PeerChannel:
    """``send(message)`` to one agent: what the exec service holds for a rank."""

    __slots__ = ("transport", "hostname")

    def __init__(self, transport, hostname):
        self.transport = transport
        self.hostname = hostname

    def send(self, message: dict):
        self.transport.send(self.hostname, message)


class ControllerTransport:
    def __init__(self, endpoint: str, key_dir: str, *, on_message, on_register=None,
                 on_state=None, settings: Settings | None = None,
                 credential_secret: bytes | None = None, after_commit=None):
        """Listen on ``endpoint`` (tcp:// or ipc://) with the keys of ``key_dir``
        (KeyMaterialError if they are missing or unsafe); ``credential_secret``, the key
        that signs launch credentials, goes to each agent in its welcome;
        ``after_commit(callback)`` (the store's) calls back once what is queued for the store
        is committed: an agent's messages are then acknowledged only once what they did is
        stored."""
        self.after_commit = after_commit
        self.endpoint = sockets.check_endpoint(endpoint)
        self.keys = ControllerKeys(key_dir)
        self.settings = settings or Settings()
        self.on_message = on_message
        self.on_register = on_register
        self.on_state = on_state
        self.credential_secret = credential_secret
        self.session = uuid.uuid4().hex
        self.peers: dict[str, Peer] = {}
        self._by_routing_id: dict[bytes, Peer] = {}
        self._replaced_boots: set[str] = set()  # one id per agent restart: a few in a day
        self._acks_due: set[Peer] = set()
        self._acks_delayed: dict[Peer, asyncio.TimerHandle] = {}
        self._flushes_due: list[Link] = []
        self._context = None
        self._socket = None
        self._authenticator = None
        self._sweeper = None
        self.loop = None

    async def start(self) -> str:
        """Bind and serve; the endpoint bound (a tcp port of 0 is chosen by the system)."""
        self.loop = asyncio.get_running_loop()
        # The authenticator answers ZAP requests on the loop through zmq.asyncio; the agents'
        # socket, in the same context, is driven by a LoopSocket.
        self._context = zmq.asyncio.Context()
        self._authenticator = AgentKeyAuthenticator(self._context, self.keys)
        self._authenticator.start()
        socket = zmq.Context.shadow(self._context.underlying).socket(zmq.ROUTER)
        sockets.configure(socket, self.settings)
        socket.curve_server = True
        socket.curve_publickey = self.keys.public
        socket.curve_secretkey = self.keys.secret
        socket.zap_domain = ZAP_DOMAIN.encode()
        try:
            socket.bind(self.endpoint)
        except zmq.ZMQError as exc:
            socket.close(linger=0)
            await self.close()
            raise OSError(exc.errno, f"cannot listen on {self.endpoint}: {exc}") from None
        self.endpoint = socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._socket = sockets.LoopSocket(self.loop, socket, self._receive)
        self._sweeper = self.loop.call_later(self._sweep_interval(), self._sweep)
        log.info("transport: listening for agents on %s", self.endpoint)
        return self.endpoint

    async def close(self):
        if self._sweeper is not None:
            self._sweeper.cancel()
        for timer in self._acks_delayed.values():
            timer.cancel()
        self._acks_delayed.clear()
        for peer in self.peers.values():
            peer.link.send_frame = None  # a flush still scheduled has nowhere to go
        if self._socket is not None:
            self._socket.close()
        if self._authenticator is not None:
            self._authenticator.stop()
        if self._context is not None:
            self._context.destroy(linger=0)
        self._context = self._socket = self._authenticator = None

    def expect(self, hostname: str):
        """An agent should register as ``hostname`` (after `start`): messages sent to it
        wait for it, and it is reported unresponsive, then lost, while it does not come.
        Its silence counts from the end of the longest wait between an agent's attempts to
        connect, so that an agent retrying since a controller before this one is not lost
        for that wait alone."""
        if hostname not in self.peers:
            since = self.loop.time() + self.settings.reconnect_max
            self.peers[hostname] = Peer(hostname, None, Link(self.settings, since, Inbox("")))

    # --- sending ----------------------------------------------------------------------------

    def send(self, hostname: str, message: dict):
        """Send an exec message to the agent registered or expected as ``hostname``
        (LookupError if neither; ValueError if ``message`` is not one the controller
        sends)."""
        problem = frames.check_message(message, frames.TO_AGENT)
        if problem is not None:
            raise ValueError(f"the controller cannot send {problem}")
        peer = self.peers.get(hostname)
        if peer is None:
            raise LookupError(f"no agent is expected as {hostname}")
        if peer.link.send(message):
            if not self._flushes_due:
                self.loop.call_soon(self._flush)
            self._flushes_due.append(peer.link)

    def _flush(self):
        due, self._flushes_due = self._flushes_due, []
        for link in due:
            link.flush()

    def channel(self, hostname: str) -> PeerChannel:
        return PeerChannel(self, hostname)

    def state(self, hostname: str) -> str | None:
        """``"alive"``, ``"unresponsive"`` or ``"lost"``; None for a host never registered."""
        peer = self.peers.get(hostname)
        return None if peer is None or peer.registration is None else peer.link.liveness.state

    def _send_to(self, routing_id: bytes, frame: dict):
        self._socket.send([routing_id, frames.encode(frame)])

    # --- receiving --------------------------------------------------------------------------

    def _receive(self, socket):
        routing_id = socket.recv(sockets.NOBLOCK)
        peer = self._by_routing_id.get(routing_id)
        if not socket.getsockopt(zmq.RCVMORE):
            log.error("transport: dropped a message without content from an agent")
            return
        if peer is not None:
            data, key_owner = socket.recv(sockets.NOBLOCK), None
        else:
            # A connection not registered yet: its hello's frame says whose key it holds.
            frame = socket.recv(sockets.NOBLOCK, copy=False)
            data, key_owner = frame.bytes, frame.get("User-Id")
        while socket.getsockopt(zmq.RCVMORE):
            socket.recv(sockets.NOBLOCK)
            log.error("transport: dropped an extra message part from an agent")
        self._frame(routing_id, peer, data, key_owner)

    def _frame(self, routing_id: bytes, peer, data: bytes, key_owner: str | None):
        try:
            frame = frames.decode(data)
            if "hello" in frame:
                if key_owner is None:  # a registered connection says hello again
                    key_owner = peer.hostname
                self._hello(routing_id, frame["hello"], key_owner)
                return
            if peer is None:
                # A connection that has not said hello (an agent whose hello is on its way,
                # or one the controller does not know any more): ask it to register.
                self._send_to(routing_id, {"register": True})
                return
            link = peer.link
            changed = link.liveness.heard(self.loop.time())
            if changed is not None:
                self._state(peer, changed)
            link.receive(frame, lambda message: self._apply(peer, message))
        except frames.FrameError as exc:
            name = peer.hostname if peer is not None else "an unregistered agent"
            log.error("transport: dropped %s from %s", exc, name)
            return
        if frame.get("heartbeat"):
            self._send_to(routing_id, {"heartbeat": True, "ack": link.inbox.durable})
            link.inbox.acknowledged = link.inbox.durable
        elif link.inbox.applied > link.inbox.acknowledged:
            if not self._acks_due:
                self.loop.call_soon(self._flush_acks)
            self._acks_due.add(peer)

    def _apply(self, peer: Peer, message):
        hostname = peer.hostname
        problem = frames.check_message(message, frames.TO_CONTROLLER)
        if problem is not None:
            log.error("transport: dropped %s from %s", problem, hostname)
            return
        try:
            self.on_message(hostname, message)
        except Exception:
            log.exception("transport: error handling %s for job %s from %s",
                          message["type"], message.get("job"), hostname)

    def _flush_acks(self):
        due, self._acks_due = self._acks_due, set()
        if self.after_commit is None:
            for peer in due:
                peer.link.acknowledge()
            return
        # What this turn's messages did is queued for the store now: acknowledge them once
        # it is committed, so that an agent keeps them until then.
        marks = [(peer, peer.link.inbox, peer.link.inbox.applied) for peer in due]
        self.after_commit(lambda: self._stored(marks))

    def _stored(self, marks):
        for peer, inbox, applied in marks:
            inbox.stored(applied)
            if peer.link.inbox is not inbox:
                continue
            if inbox.durable - inbox.acknowledged >= ACK_NOW:
                peer.link.acknowledge()  # a delayed acknowledgement then finds nothing to do
            elif peer not in self._acks_delayed:
                self._acks_delayed[peer] = self.loop.call_later(ACK_DELAY, self._delayed_ack,
                                                                peer)

    def _delayed_ack(self, peer: Peer):
        """Acknowledge what is stored, unless a frame since has (`Link.acknowledge`)."""
        del self._acks_delayed[peer]
        peer.link.acknowledge()

    # --- registration -----------------------------------------------------------------------

    def _hello(self, routing_id: bytes, hello, key_owner: str | None):
        if not isinstance(hello, dict):
            raise frames.FrameError("a hello that is not an object")
        try:
            registration = Registration.from_wire(hello.get("registration"))
        except ValueError as exc:
            raise frames.FrameError(f"a hello whose registration is malformed: {exc}") from None
        resume_from = frames.integer(hello, "resume_from") or 1
        acked = frames.integer(hello, "acked") or 0
        hostname = registration.hostname
        peer = self.peers.get(hostname)
        if peer is None or peer.registration is None:
            event = "registered"
        elif peer.registration.boot_id != registration.boot_id:
            event = "restarted"
        else:
            event = "reconnected"
        reason = self._refusal(registration, key_owner, event, hello.get("heartbeat_interval"))
        if reason is not None:
            log.warning("transport: refused agent %s: %s", hostname, reason)
            self._send_to(routing_id, {"refused": reason})
            return
        now = self.loop.time()
        if event == "reconnected":
            self._by_routing_id.pop(peer.routing_id, None)
            if hello.get("controller_session") == self.session:
                peer.link.outbox.acknowledge(acked)
        else:
            if peer is not None:
                if peer.registration is not None:
                    self._replaced_boots.add(peer.registration.boot_id)
                self._by_routing_id.pop(peer.routing_id, None)
                peer.link.send_frame = None
                if peer.link.outbox and peer.registration is not None:
                    log.warning("transport: agent %s restarted: dropped %d messages its "
                                "previous boot did not acknowledge", hostname,
                                len(peer.link.outbox))
            link = Link(self.settings, now, Inbox(registration.boot_id, resume_from,
                                                  gated=self.after_commit is not None))
            if peer is not None:
                # The node's liveness carries on: a lost node that comes back is alive again.
                link.liveness.state = peer.link.liveness.state
                if peer.registration is None:  # what waited for this agent goes to it now
                    link.outbox = peer.link.outbox
            peer = self.peers[hostname] = Peer(hostname, registration, link)
        peer.registration = registration
        peer.routing_id = routing_id
        self._by_routing_id[routing_id] = peer
        link = peer.link
        link.send_frame = lambda data: self._socket.send([routing_id, data])
        welcome = {"session": self.session, "resume_from": link.outbox.resume_from,
                   "acked": link.inbox.durable}
        if self.credential_secret is not None:
            welcome["credential"] = self.credential_secret.hex()
        self._send_to(routing_id, {"welcome": welcome})
        link.inbox.acknowledged = link.inbox.durable
        replayed = link.replay()
        log.info("transport: agent %s %s (boot %s, %d cores, %d GPUs)%s", hostname, event,
                 registration.boot_id[:8], len(registration.cores), len(registration.gpus),
                 f"; replayed {replayed} unacknowledged messages" if replayed else "")
        changed = link.liveness.heard(now)
        if changed is not None:
            self._state(peer, changed)

    def _heartbeat_refusal(self, interval) -> str | None:
        """Why an agent beating every ``interval`` seconds cannot be kept: one that beats no
        faster than this controller's ``unresponsive-after`` would be taken for unresponsive
        between two heartbeats, its node given no work and then lost over and over."""
        if interval is None:
            return None
        if type(interval) not in (int, float):
            return "its hello gives a heartbeat interval that is not a number"
        if interval < self.settings.unresponsive_after:
            return None
        return (f"its heartbeat interval ({interval:g} s) is not shorter than the controller's "
                f"[agents] unresponsive-after ({self.settings.unresponsive_after:g} s)")

    def _refusal(self, registration: Registration, key_owner: str | None, event,
                 heartbeat_interval) -> str | None:
        if registration.version != __version__:
            return (f"agent version {registration.version} differs from controller version "
                    f"{__version__}")
        heartbeat = self._heartbeat_refusal(heartbeat_interval)
        if heartbeat is not None:
            return heartbeat
        if key_owner != registration.hostname:
            return (f"it presented the key of node {key_owner}, not of "
                    f"{registration.hostname}")
        if registration.boot_id in self._replaced_boots:
            current = self.peers[registration.hostname].registration
            return (f"another agent (boot {current.boot_id[:8]}) took node "
                    f"{registration.hostname} over; a node has one agent at a time")
        if self.on_register is None:
            return None
        try:
            return self.on_register(registration, event)
        except Exception:
            log.exception("transport: error registering agent %s", registration.hostname)
            return "the controller failed to register it"

    # --- liveness ---------------------------------------------------------------------------

    def _sweep_interval(self) -> float:
        return self.settings.heartbeat_interval / 2

    def _sweep(self):
        now = self.loop.time()
        for peer in self.peers.values():
            changed = peer.link.liveness.check(now)
            if changed is not None:
                self._state(peer, changed)
        self._sweeper = self.loop.call_later(self._sweep_interval(), self._sweep)

    def _state(self, peer: Peer, state: str):
        hostname = peer.hostname
        silence = self.loop.time() - peer.link.liveness.last_heard
        if state == "alive":
            log.info("transport: agent %s is alive again", hostname)
        else:
            log.warning("transport: agent %s is %s (silent for %.1f s)", hostname, state,
                        silence)
        if self.on_state is not None:
            try:
                self.on_state(hostname, state)
            except Exception:
                log.exception("transport: error handling agent %s turning %s", hostname,
                              state)
