"""An agent's end of the transport: one DEALER socket connected to the controller.

It connects with the node's CURVE key and checks the controller's (a peer that does not hold
the controller's secret key fails the handshake and gets nothing), says hello with its
`Registration` on every new connection, numbers what it sends and replays what the controller
did not acknowledge, applies the controller's messages once and in order, and beats every
``heartbeat_interval``.  ZeroMQ reconnects by itself, waiting ``reconnect_min`` and doubling
up to ``reconnect_max``.

The node agent sees:

* ``on_message(message)``: ``start``, ``kill``, ``prolog``, ``epilog`` from the controller;
* ``send(message)``: ``started``, ``failed``, ``finished``, ``prolog-done``, ``epilog-done``,
  kept and sent again until the controller has them, across reconnects;
* ``on_state(state)``: the controller turned ``"unresponsive"``, ``"lost"``, or ``"alive"``
  again (what to do with tasks when it stays away is the node agent's decision);
* ``on_refused(reason)``: the controller refused this agent (its key, its version, its
  hostname); the transport has closed and ``closed`` is done;
* ``on_welcome(credential)``: a controller welcomed it, with the key (bytes, or None) that
  signs its launch credentials, before any of its messages is applied.
"""

import asyncio
import logging

import zmq
from zmq.utils.monitor import parse_monitor_message

from .. import idle
from . import frames, sockets
from .keys import AgentKeys
from .link import Link
from .registration import Registration
from .sequence import Inbox
from .settings import Settings

log = logging.getLogger("corral.transport")

HANDSHAKE_FAILED = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)


class AgentTransport:
    def __init__(self, endpoint: str, key_dir: str, registration: Registration, *,
                 on_message, on_state=None, on_refused=None, on_welcome=None,
                 settings: Settings | None = None):
        """Connect to the controller at ``endpoint`` with the key of
        ``registration.hostname`` in ``key_dir`` (KeyMaterialError if missing or unsafe)."""
        self.endpoint = sockets.check_endpoint(endpoint)
        self.keys = AgentKeys(key_dir, registration.hostname)
        self.registration = registration
        self.settings = settings or Settings()
        self.on_message = on_message
        self.on_state = on_state
        self.on_refused = on_refused
        self.on_welcome = on_welcome
        self.controller_session = None
        self.link = None
        self.welcomed = False
        self.closed = None
        self._handshake_failure_logged = False
        self._ack_due = False
        self._context = None
        self._socket = None
        self._monitor = None
        self._beating = None
        self._closing = None
        self.loop = None

    async def start(self):
        self.loop = asyncio.get_running_loop()
        self.closed = self.loop.create_future()
        # Until a controller welcomes it, the agent's own numbering is all there is.
        self.link = Link(self.settings, self.loop.time(), Inbox(""))
        self._context = zmq.Context()
        socket = self._context.socket(zmq.DEALER)
        sockets.configure(socket, self.settings)
        socket.setsockopt(zmq.RECONNECT_IVL, sockets.milliseconds(self.settings.reconnect_min))
        socket.setsockopt(zmq.RECONNECT_IVL_MAX,
                          sockets.milliseconds(self.settings.reconnect_max))
        socket.setsockopt(zmq.CONNECT_TIMEOUT,
                          sockets.milliseconds(self.settings.unresponsive_after))
        socket.curve_serverkey = self.keys.controller_public
        socket.curve_publickey = self.keys.public
        socket.curve_secretkey = self.keys.secret
        self._monitor = sockets.LoopSocket(self.loop, socket.get_monitor_socket(),
                                           self._connection_event)
        self._socket = sockets.LoopSocket(self.loop, socket, self._receive)
        socket.connect(self.endpoint)
        self._beating = self.loop.create_task(self._beat())

    async def close(self):
        if self._beating is not None:
            self._beating.cancel()
            await asyncio.gather(self._beating, return_exceptions=True)
            self._beating = None
        if self._context is not None:
            self.link.send_frame = None  # a flush still scheduled has nowhere to go
            self._socket.socket.disable_monitor()
            self._monitor.close()
            self._socket.close()
            self._context.destroy(linger=0)
            self._context = self._socket = self._monitor = None
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)

    def send(self, message: dict):
        """Send an exec message to the controller (ValueError if it is not one an agent
        sends); kept until the controller acknowledges it."""
        problem = frames.check_message(message, frames.TO_CONTROLLER)
        if problem is not None:
            raise ValueError(f"an agent cannot send {problem}")
        if self.link.send(message):
            idle.when_idle(self.loop, self.link.flush)

    @property
    def state(self) -> str:
        """The controller's liveness as this agent sees it."""
        return self.link.liveness.state

    def _send(self, frame: dict):
        self._socket.send([frames.encode(frame)])

    def _send_data(self, data: bytes):
        self._socket.send([data])

    # --- the connection ---------------------------------------------------------------------

    def _connection_event(self, monitor):
        """Say hello on each new connection; say once why a handshake fails."""
        kind = parse_monitor_message(monitor.recv_multipart(sockets.NOBLOCK))["event"]
        if kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self._handshake_failure_logged = False
            self._hello()
        elif kind == zmq.EVENT_DISCONNECTED:
            if self.welcomed:
                log.info("transport: connection to the controller at %s lost; reconnecting",
                         self.endpoint)
            self.welcomed = False
            self.link.send_frame = None
        elif kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            self._refused(f"this node's key ({self.keys.directory}/agents/"
                          f"{self.registration.hostname}.key_secret) is not accepted")
        elif kind in HANDSHAKE_FAILED and not self._handshake_failure_logged:
            self._handshake_failure_logged = True
            log.error("transport: the CURVE handshake with %s failed: the peer there does "
                      "not hold the secret key of %s/controller.key; retrying",
                      self.endpoint, self.keys.directory)

    def _hello(self):
        link = self.link
        self._send({"hello": {
            "registration": self.registration.to_wire(),
            "resume_from": link.outbox.resume_from,
            "controller_session": self.controller_session,
            "acked": link.inbox.durable,
            "heartbeat_interval": self.settings.heartbeat_interval,
        }})

    def _refused(self, reason: str):
        log.error("transport: the controller at %s refused this agent: %s", self.endpoint,
                  reason)
        if self.on_refused is not None:
            try:
                self.on_refused(reason)
            except Exception:
                log.exception("transport: error handling the controller's refusal")
        if not self._closing:
            self._closing = self.loop.create_task(self.close())

    def _receive(self, socket):
        data = socket.recv(sockets.NOBLOCK)
        try:
            self._frame(frames.decode(data))
        except frames.FrameError as exc:
            log.error("transport: dropped %s from the controller", exc)

    def _frame(self, frame: dict):
        link = self.link
        if "refused" in frame:
            self._refused(str(frame["refused"]))
            return
        changed = link.liveness.heard(self.loop.time())
        if changed is not None:
            self._state(changed)
        if "welcome" in frame:
            self._welcome(frame["welcome"])
            return
        if "register" in frame:
            if self.welcomed:  # the controller no longer knows this connection
                self.welcomed = False
                link.send_frame = None
                self._hello()
            return
        if not self.welcomed:
            return
        link.receive(frame, self._apply)
        if not frame.get("heartbeat") and not self._ack_due:
            # Once the loop is idle, so that answers sent meanwhile carry the acknowledgement.
            self._ack_due = True
            idle.when_idle(self.loop, self._acknowledge)

    def _acknowledge(self):
        self._ack_due = False
        self.link.acknowledge()

    def _welcome(self, welcome):
        if not isinstance(welcome, dict) or not isinstance(welcome.get("session"), str):
            raise frames.FrameError("a welcome without a session")
        resume_from = frames.integer(welcome, "resume_from") or 1
        acked = frames.integer(welcome, "acked") or 0
        credential = welcome.get("credential")
        try:
            credential = None if credential is None else bytes.fromhex(credential)
        except (TypeError, ValueError):
            raise frames.FrameError("a welcome whose credential key is not hex") from None
        if self.on_welcome is not None:
            self.on_welcome(credential)
        link = self.link
        if welcome["session"] != self.controller_session:
            if self.controller_session is not None:
                log.info("transport: the controller at %s restarted", self.endpoint)
            self.controller_session = welcome["session"]
            link.inbox = Inbox(welcome["session"], resume_from)
        link.outbox.acknowledge(acked)
        self.welcomed = True
        link.send_frame = self._send_data
        replayed = link.replay()
        log.info("transport: registered with the controller at %s as %s%s", self.endpoint,
                 self.registration.hostname,
                 f"; replayed {replayed} unacknowledged messages" if replayed else "")

    def _apply(self, message):
        problem = frames.check_message(message, frames.TO_AGENT)
        if problem is not None:
            log.error("transport: dropped %s from the controller", problem)
            return
        try:
            self.on_message(message)
        except Exception:
            log.exception("transport: error handling %s for job %s", message["type"],
                          message["job"])

    # --- heartbeats -------------------------------------------------------------------------

    async def _beat(self):
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            if self.welcomed:
                self._send({"heartbeat": True, "ack": self.link.inbox.durable})
                self.link.inbox.acknowledged = self.link.inbox.durable
            changed = self.link.liveness.check(self.loop.time())
            if changed is not None:
                self._state(changed)

    def _state(self, state: str):
        if state == "alive":
            log.info("transport: the controller at %s is reachable again", self.endpoint)
        else:
            log.warning("transport: the controller at %s is %s", self.endpoint, state)
        if self.on_state is not None:
            try:
                self.on_state(state)
            except Exception:
                log.exception("transport: error handling the controller turning %s", state)

