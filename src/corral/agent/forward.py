"""Submit from any node: ``corral`` commands on a node reach the controller through the agent.

``corral agent --socket PATH`` serves a Unix socket there that speaks what the controller's own
socket speaks (length-prefixed JSON requests, `corral.broker.wire`), so ``CORRAL_URI=local://PATH``
works for every command.  The agent does not serve requests itself: it sends each to the
controller as an ``rpc`` message over its authenticated link, stamped with the uid the kernel
gives for the peer of that connection (``SO_PEERCRED``), and writes back the ``rpc-reply``
frames; a connection that closes is an ``rpc-close``, and the controller cancels what it left,
as when a client of its own socket goes away.  The controller trusts an agent to say who its
callers are, as Flux's brokers trust one another and Slurm's slurmctld trusts a munge
credential: a uid or role a client writes into its request is never read, so a user cannot
claim another's.  The controller applies its own rules to the uid it is given (the owner and
root are the owner, others are guests, refused unless ``[access] allow-guest-user``).

`LocalSocket` is the agent's side, `Forwarded` the controller's.
"""

import asyncio
import errno
import itertools
import logging
import os
import socket
import struct

from ..broker import wire
from ..broker.message import Message
from ..broker.roles import ROLE_OWNER, rolemask_for
from ..limits import MAX_REQUEST_FRAME, shorten

log = logging.getLogger("corral.agent")

_PEERCRED = struct.Struct("3i")
#: Bytes of replies a local client may leave unread before its connection is closed.
WRITE_LIMIT = 64 * 1024 * 1024


class LocalSocket:
    """The agent's socket for local commands; ``send(message)`` reaches the controller."""

    def __init__(self, path: str, send):
        self.path = path
        self.send = send
        self.clients: dict[int, _Client] = {}
        self._ids = itertools.count(1)
        self._server = None

    async def start(self):
        """Serve ``path`` (mode 0777: who asks is told to the controller, which decides)."""
        if os.path.exists(self.path):
            os.unlink(self.path)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: _Client(self), self.path)
        os.chmod(self.path, 0o777)

    async def close(self):
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        for client in list(self.clients.values()):
            client.transport.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def reply(self, message: dict):
        """An ``rpc-reply`` from the controller: its frame to the client it answers."""
        client = self.clients.get(message.get("conn"))
        frame = message.get("frame")
        if client is not None and isinstance(frame, dict):
            client.write(frame)


class _Client(asyncio.Protocol):
    def __init__(self, server: LocalSocket):
        self.server = server
        self.transport = None
        self.id = next(server._ids)
        self.userid = -1
        self.reader = wire.FrameReader(MAX_REQUEST_FRAME)

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        _pid, self.userid, _gid = _PEERCRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
        self.server.clients[self.id] = self

    def connection_lost(self, exc):
        if self.server.clients.pop(self.id, None) is not None:
            self.server.send({"type": "rpc-close", "conn": self.id})

    def data_received(self, data):
        for body in self.reader.feed(data):
            try:
                if isinstance(body, wire.FrameError):
                    raise body
                request = wire.decode_request(body)
            except wire.FrameError as exc:
                self.write({"matchtag": exc.matchtag, "errnum": errno.EPROTO,
                            "errstr": shorten(str(exc))})
                continue
            self.server.send({"type": "rpc", "conn": self.id, "uid": self.userid,
                              "request": request})

    def write(self, frame: dict):
        transport = self.transport
        if transport.is_closing():
            return
        transport.write(wire.encode(frame))
        if transport.get_write_buffer_size() > WRITE_LIMIT:
            log.warning("agent: closing the connection of uid %d: it does not read its "
                        "replies", self.userid)
            transport.abort()


class Forwarded:
    """The controller's side: requests agents forward, served by the broker as the uid each
    agent names; ``send(hostname, message)`` reaches an agent."""

    def __init__(self, broker, send):
        self.broker = broker
        self.send = send
        #: (hostname, connection) -> {id(message): message} not answered for good yet.
        self.outstanding: dict[tuple[str, int], dict[int, Message]] = {}
        #: (hostname, connection) -> {matchtag: message} of its open streams.
        self.streams: dict[tuple[str, int], dict[int, Message]] = {}

    def handle(self, hostname: str, message: dict):
        conn, uid = message.get("conn"), message.get("uid")
        if type(conn) is not int or (message["type"] == "rpc" and (type(uid) is not int
                                                                   or uid < 0)):
            log.error("agent %s: dropped a forwarded request without a connection and uid",
                      hostname)
            return
        key = (hostname, conn)
        if message["type"] == "rpc-close":
            self._cancel(key)
        else:
            self._request(key, uid, message.get("request"))

    def drop(self, hostname: str):
        """The agent of ``hostname`` is gone (lost, restarted): its clients are too."""
        for key in [key for key in self.outstanding if key[0] == hostname]:
            self._cancel(key)

    def _cancel(self, key):
        self.streams.pop(key, None)
        for msg in self.outstanding.pop(key, {}).values():
            msg.cancel()

    def _request(self, key, uid: int, request):
        hostname, conn = key
        matchtag = request.get("matchtag", 0) if isinstance(request, dict) else 0
        topic = request.get("topic") if isinstance(request, dict) else None
        if type(matchtag) is not int or not isinstance(topic, str) or not topic:
            self._reply(key, {"matchtag": matchtag if type(matchtag) is int else 0,
                              "errnum": errno.EPROTO, "errstr": "request frame needs a string "
                              "'topic' and an integer 'matchtag'"})
            return
        if topic == "broker.cancel":
            payload = request.get("payload")
            cancelled = payload.get("matchtag") if isinstance(payload, dict) else None
            stream = self.streams.get(key, {}).pop(cancelled, None)
            if stream is not None:
                self.outstanding.get(key, {}).pop(id(stream), None)
                stream.cancel()
            return
        rolemask = rolemask_for(uid, self.broker.owner_uid)
        if not rolemask & ROLE_OWNER and not self.broker.allow_guest_user:
            self._reply(key, {"matchtag": matchtag, "errnum": errno.EPERM,
                              "errstr": "guest access is not allowed in this instance "
                                        "([access] allow-guest-user = false)"})
            return
        streaming = bool(request.get("streaming"))
        outstanding = self.outstanding.setdefault(key, {})

        def reply(payload, errnum, errstr):
            if errnum:
                frame = {"matchtag": matchtag, "errnum": errnum, "errstr": shorten(str(errstr))}
                self.streams.get(key, {}).pop(matchtag, None)
            else:
                frame = {"matchtag": matchtag, "payload": payload}
            if errnum or not streaming:
                outstanding.pop(id(msg), None)
            self._reply(key, frame)

        msg = Message(topic, request.get("payload"), uid, rolemask, reply, streaming)
        outstanding[id(msg)] = msg
        if streaming:
            self.streams.setdefault(key, {})[matchtag] = msg
        self.broker.dispatch(msg)

    def _reply(self, key, frame: dict):
        hostname, conn = key
        try:
            self.send(hostname, {"type": "rpc-reply", "conn": conn, "frame": frame})
        except LookupError:
            self._cancel(key)  # the agent is gone
