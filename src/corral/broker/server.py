"""The broker: a table of services by topic, reached locally or over a Unix socket.

A request names a topic; the broker checks the requester's role against the service's
rolemask, calls the service, and routes its responses back.  Services may answer at once, later,
or many times (streams).  A service that raises answers with an error; it never takes the
broker down.  Requests made inside the controller (`Broker.rpc`) are dispatched on the next
loop iteration, never re-entrantly, exactly as if they had come over the socket.  Socket
requests are served in fair turns, within limits on connections, queued input and unread
replies (`broker.turns`); a client that goes away has every request it left cancelled, so
waits and watches it started are dropped.
"""

import asyncio
import errno
import inspect
import logging
import os
import socket
import struct
import time
from collections import Counter, deque

from ..limits import MAX_REQUEST_FRAME, shorten
from . import turns, wire
from .message import Message, RequestError
from .roles import ROLE_OWNER, rolemask_for

log = logging.getLogger("corral.broker")

_PEERCRED = struct.Struct("3i")


class Service:
    __slots__ = ("topic", "callback", "rolemask", "owner")

    def __init__(self, topic, callback, rolemask, owner):
        self.topic = topic
        self.callback = callback
        self.rolemask = rolemask
        self.owner = owner


class Broker:
    """Service table, local dispatch and the socket server of one controller."""

    def __init__(self, loop: asyncio.AbstractEventLoop, owner_uid: int, allow_guest_user=False,
                 limits: turns.Limits | None = None):
        self.loop = loop
        self.owner_uid = owner_uid
        self.allow_guest_user = allow_guest_user
        self.services: dict[str, Service] = {}
        self._server = None
        self._path = None
        self._connections: set[Connection] = set()
        self.limits = limits or turns.Limits()
        self.turns = turns.Turns(loop)
        self._connections_by_user: Counter[int] = Counter()
        self._unfinished_by_user: Counter[int] = Counter()  # bytes of unfinished frames
        self._blocked_by_user: dict[int, set] = {}  # connections not read for that reason
        self._refusals_logged: dict[int, float] = {}  # uid -> when its last refusal was logged

    # --- services ---------------------------------------------------------------------

    def register(self, topic: str, callback, rolemask: int = ROLE_OWNER, owner=None):
        """Serve ``topic`` with ``callback(msg)``; raises EEXIST if the topic is taken."""
        if topic in self.services:
            raise RequestError(errno.EEXIST, f"service {topic} is already registered")
        self.services[topic] = Service(topic, callback, rolemask, owner)

    def unregister_owner(self, owner):
        """Drop every service registered on behalf of ``owner`` (a plugin being removed)."""
        for topic in [t for t, s in self.services.items() if s.owner is owner]:
            del self.services[topic]

    def dispatch(self, msg: Message):
        """Route one request to its service and turn failures into error responses."""
        service = self.services.get(msg.topic)
        if service is None:
            msg.respond_error(errno.ENOSYS, f"no service matches topic {msg.topic}")
            return
        if not msg.rolemask & service.rolemask:
            msg.respond_error(errno.EPERM, "Request requires owner credentials")
            return
        try:
            result = service.callback(msg)
            if inspect.iscoroutine(result):
                task = self.loop.create_task(result)
                task.add_done_callback(lambda t: self._finish_task(msg, t))
        except OSError as exc:
            msg.respond_error(exc.errno or errno.EIO, exc.strerror or str(exc))
        except Exception as exc:  # a bug in a service must not take the broker down
            log.exception("service %s failed", msg.topic)
            msg.respond_error(errno.EIO, f"{msg.topic}: internal error: {exc}")

    def _finish_task(self, msg: Message, task: asyncio.Task):
        if task.cancelled():
            msg.respond_error(errno.ECANCELED, f"{msg.topic}: canceled")
            return
        exc = task.exception()
        if exc is None:
            return
        if isinstance(exc, OSError):
            msg.respond_error(exc.errno or errno.EIO, exc.strerror or str(exc))
        else:
            log.error("service %s failed", msg.topic, exc_info=exc)
            msg.respond_error(errno.EIO, f"{msg.topic}: internal error: {exc}")

    # --- requests made inside the controller ------------------------------------------

    def rpc(self, topic, payload=None, *, userid=None, rolemask=ROLE_OWNER, on_response=None):
        """Send a request to a local service on the next loop iteration.

        Without ``on_response`` the result is an asyncio future resolved with the first
        response (or an `RequestError`).  With it, every response of a stream is passed to
        ``on_response(payload, errnum, errstr)`` and the request message is returned.
        """
        if userid is None:
            userid = self.owner_uid
        if on_response is None:
            future = self.loop.create_future()

            def reply(payload, errnum, errstr):
                if future.done():
                    return
                if errnum:
                    future.set_exception(RequestError(errnum, errstr))
                else:
                    future.set_result(payload)

            msg = Message(topic, payload, userid, rolemask, reply)
            self.loop.call_soon(self.dispatch, msg)
            return future
        msg = Message(topic, payload, userid, rolemask, on_response, streaming=True)
        self.loop.call_soon(self.dispatch, msg)
        return msg

    # --- the socket --------------------------------------------------------------------

    async def listen(self, path: str):
        """Serve the Unix socket at ``path`` (mode 0777: access is decided per peer)."""
        if os.path.exists(path):
            os.unlink(path)
        self._server = await self.loop.create_unix_server(lambda: Connection(self), path)
        self._path = path
        os.chmod(path, 0o777)

    def _admit(self, connection) -> str | None:
        """Count a new connection in, or say why it is refused (one sentence)."""
        limits = self.limits
        owner = connection.rolemask & ROLE_OWNER
        total = len(self._connections)
        if total >= limits.max_connections + (turns.OWNER_RESERVE if owner else 0):
            return (f"too many connections to this instance ({total}; "
                    f"[access] max-connections = {limits.max_connections})")
        userid = connection.userid
        count = self._connections_by_user[userid]
        if not owner and count >= limits.max_connections_per_user:
            return (f"too many connections from uid {userid} ({count}; "
                    f"[access] max-connections-per-user = {limits.max_connections_per_user})")
        self._connections.add(connection)
        self._connections_by_user[userid] += 1
        return None

    def _refused(self, connection, reason: str):
        now = time.monotonic()
        if now - self._refusals_logged.get(connection.userid, -60.0) >= 60.0:
            self._refusals_logged[connection.userid] = now
            log.warning("refusing a connection from uid %d: %s", connection.userid, reason)

    def unfinished_input(self, connection, change: int):
        """Account for bytes of unfinished frames.  A user other than the owner whose
        unfinished frames hold more than `turns.UNFINISHED_BYTES_PER_USER` is not read on
        the connections that add to them while another holds some too (one frame always
        completes), until they hold half as much."""
        if not change:
            return
        userid = connection.userid
        connection.unfinished += change
        total = self._unfinished_by_user[userid] = self._unfinished_by_user[userid] + change
        blocked = self._blocked_by_user
        if change > 0 and total > turns.UNFINISHED_BYTES_PER_USER \
                and connection.unfinished < total and not connection.rolemask & ROLE_OWNER:
            connection.input_blocked = True
            blocked.setdefault(userid, set()).add(connection)
            if not connection.reading_paused and not connection.transport.is_closing():
                connection.reading_paused = True
                connection.transport.pause_reading()
        elif change < 0 and userid in blocked and total <= turns.UNFINISHED_BYTES_PER_USER // 2:
            for waiting in blocked.pop(userid):
                waiting.input_blocked = False
                waiting.serve_pending(0)  # resumes reading if nothing else holds it
        if not total:
            del self._unfinished_by_user[userid]

    def _forget(self, connection):
        self.unfinished_input(connection, -connection.unfinished)
        blocked = self._blocked_by_user.get(connection.userid)
        if blocked is not None:
            blocked.discard(connection)
        if connection in self._connections:
            self._connections.discard(connection)
            self._connections_by_user[connection.userid] -= 1
            if not self._connections_by_user[connection.userid]:
                del self._connections_by_user[connection.userid]

    async def close(self):
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            try:
                os.unlink(self._path)  # a stopped instance leaves no socket to connect to
            except FileNotFoundError:
                pass
        for connection in list(self._connections):
            connection.close()


class Connection(asyncio.Protocol):
    """One client: deframes requests, stamps them with the peer's credentials, sends replies."""

    def __init__(self, broker: Broker):
        self.broker = broker
        self.transport = None
        self.reader = wire.FrameReader(MAX_REQUEST_FRAME)
        self.userid = -1
        self.rolemask = 0
        self.streams: dict[int, Message] = {}
        # Requests not answered for good yet, by id(): a reply closure that held its message
        # would make every request a reference cycle, freed only by a full collection.
        self.outstanding: dict[int, Message] = {}
        self.pending: deque[bytes] = deque()  # complete frames waiting for their turn
        self.pending_bytes = 0
        self.in_turns = False
        self.refused = False
        self.unfinished = 0  # bytes of a frame not complete yet, held by the reader
        self.input_blocked = False  # its user's unfinished frames hold too much
        self.reading_paused = False
        self.writing_paused = False
        self.drained_callbacks: dict = {}  # run once the client has read its replies

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        _pid, uid, _gid = _PEERCRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
        )
        self.userid = uid
        self.rolemask = rolemask_for(uid, self.broker.owner_uid)
        if not self.rolemask & ROLE_OWNER and not self.broker.allow_guest_user:
            # Refuse at the first request so the client sees why (a silent close says nothing).
            self.rolemask = 0
        refusal = self.broker._admit(self)
        if refusal is not None:
            self.broker._refused(self, refusal)
            self.refused = True
            self._send({"matchtag": 0, "errnum": errno.EAGAIN, "errstr": refusal})
            transport.close()
            return
        transport.set_write_buffer_limits(high=turns.WRITE_HIGH, low=turns.WRITE_LOW)

    def connection_lost(self, exc):
        if self.refused:
            _discard_unread(self.transport.get_extra_info("socket"))
        self.broker._forget(self)
        self.pending.clear()
        self.drained_callbacks.clear()
        self.streams = {}
        outstanding, self.outstanding = self.outstanding, {}
        for msg in outstanding.values():
            msg.cancel()

    def pause_writing(self):
        self.writing_paused = True

    def resume_writing(self):
        self.writing_paused = False
        callbacks, self.drained_callbacks = self.drained_callbacks, {}
        for callback in callbacks:
            callback()
        if self.pending:
            self.broker.turns.ready(self)

    def close(self):
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data):
        bodies = self.reader.feed(data)  # an oversized frame comes as its FrameError
        self.broker.unfinished_input(self, self.reader.buffered - self.unfinished)
        framed = sum(map(_frame_size, bodies))
        if not bodies:
            return
        self.pending.extend(bodies)
        self.pending_bytes += framed
        if not self.writing_paused:
            self.broker.turns.ready(self)
        if len(self.pending) > turns.PENDING_REQUESTS or self.pending_bytes > turns.PENDING_BYTES:
            self.reading_paused = True
            self.transport.pause_reading()

    def serve_pending(self, count: int) -> bool:
        """Serve up to ``count`` queued requests (a turn); whether more may be served."""
        pending = self.pending
        outstanding = self.outstanding
        while count and pending and not self.writing_paused \
                and len(outstanding) < turns.MAX_OUTSTANDING:
            body = pending.popleft()
            self.pending_bytes -= _frame_size(body)
            self._request(body)
            count -= 1
        if self.reading_paused and len(pending) <= turns.PENDING_REQUESTS // 2 \
                and self.pending_bytes <= turns.PENDING_BYTES // 2 and not self.input_blocked \
                and self.transport is not None and not self.transport.is_closing():
            self.reading_paused = False
            self.transport.resume_reading()
        return bool(pending) and not self.writing_paused \
            and len(outstanding) < turns.MAX_OUTSTANDING

    def _request(self, body):
        """Serve one frame; a frame that is not a well-formed request gets an error answer
        (with its matchtag when it can be read) and the connection stays open."""
        try:
            if isinstance(body, wire.FrameError):
                raise body
            request = wire.decode_request(body)
            matchtag, topic = _request_header(request)
        except wire.FrameError as exc:
            self._send({"matchtag": exc.matchtag, "errnum": errno.EPROTO,
                        "errstr": shorten(str(exc))})
            return
        if topic == "broker.cancel":
            payload = request.get("payload")
            cancelled = payload.get("matchtag") if isinstance(payload, dict) else None
            stream = self.streams.pop(cancelled, None) if type(cancelled) is int else None
            if stream is not None:
                self.outstanding.pop(id(stream), None)
                stream.cancel()
            return
        if self.rolemask == 0:
            self._send(
                {
                    "matchtag": matchtag,
                    "errnum": errno.EPERM,
                    "errstr": "guest access is not allowed in this instance "
                    "([access] allow-guest-user = false)",
                }
            )
            return
        streaming = bool(request.get("streaming"))
        userid, rolemask = self.userid, self.rolemask
        if "userid" in request:
            try:
                userid, rolemask = self._on_behalf_of(request["userid"])
            except RequestError as exc:
                self._send({"matchtag": matchtag, "errnum": exc.errno, "errstr": exc.strerror})
                return

        def reply(payload, errnum, errstr):
            if errnum:
                frame = {"matchtag": matchtag, "errnum": errnum, "errstr": shorten(str(errstr))}
                self.streams.pop(matchtag, None)
            else:
                frame = {"matchtag": matchtag, "payload": payload}
            if errnum or not streaming:
                self.outstanding.pop(key, None)
                if self.pending and not self.in_turns and not self.writing_paused:
                    self.broker.turns.ready(self)
            self._send(frame)

        msg = Message(topic, request.get("payload"), userid, rolemask, reply, streaming)
        msg.flow = self
        key = id(msg)
        self.outstanding[key] = msg
        if streaming:
            self.streams[matchtag] = msg
        self.broker.dispatch(msg)

    def _on_behalf_of(self, userid) -> tuple[int, int]:
        """The credentials of a request the instance owner sends for ``userid`` (a front end
        such as ``corral web`` that authenticated that user itself), as Flux lets an owner
        connection set a message's credentials: that user's roles, never more."""
        if not self.rolemask & ROLE_OWNER:
            raise RequestError(errno.EPERM, "only the instance owner may send requests on "
                                            "behalf of another user")
        if type(userid) is not int or not 0 <= userid < 2**32:
            raise RequestError(errno.EPROTO, "userid must be an integer uid")
        rolemask = rolemask_for(userid, self.broker.owner_uid)
        if not rolemask & ROLE_OWNER and not self.broker.allow_guest_user:
            raise RequestError(errno.EPERM, f"uid {userid} may not use this instance "
                                            "([access] allow-guest-user = false)")
        return userid, rolemask

    def _send(self, frame):
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(wire.encode(frame))
            if transport.get_write_buffer_size() > turns.WRITE_LIMIT:
                log.warning("closing connection from uid %d: it does not read its replies "
                            "(%d bytes unread)", self.userid, transport.get_write_buffer_size())
                transport.abort()


def _discard_unread(sock):
    """Read what a refused client already sent: a Unix socket closed with unread data resets
    the connection, and the client would lose the refusal that says why."""
    try:
        while sock.recv(65536, socket.MSG_DONTWAIT):
            pass
    except OSError:
        pass


def _request_header(request: dict) -> tuple[int, str]:
    """A request's matchtag and topic, or FrameError (with the matchtag if it is usable)."""
    matchtag = request.get("matchtag", 0)
    topic = request.get("topic")
    if type(matchtag) is not int or not isinstance(topic, str) or not topic:
        raise wire.FrameError("request frame needs a string 'topic' and an integer 'matchtag'",
                              matchtag if type(matchtag) is int else 0)
    return matchtag, topic


def _frame_size(body) -> int:
    """Bytes a queued frame holds (a refused oversized frame holds none)."""
    return len(body) if isinstance(body, bytes) else 0
