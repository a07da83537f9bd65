"""The broker: a table of services by topic, reached locally or over a Unix socket.

A request names a topic; the broker checks the requester's role against the service's
rolemask, calls the service, and routes its responses back.  Services may answer at once, later,
or many times (streams).  A service that raises answers with an error; it never takes the
broker down.  Requests made inside the controller (`Broker.rpc`) are dispatched on the next
loop iteration, never re-entrantly, exactly as if they had come over the socket.
"""

import asyncio
import errno
import inspect
import logging
import os
import socket
import struct

from ..limits import MAX_REQUEST_FRAME, shorten
from . import wire
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

    def __init__(self, loop: asyncio.AbstractEventLoop, owner_uid: int, allow_guest_user=False):
        self.loop = loop
        self.owner_uid = owner_uid
        self.allow_guest_user = allow_guest_user
        self.services: dict[str, Service] = {}
        self._server = None
        self._path = None
        self._connections: set[Connection] = set()

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
        self.broker._connections.add(self)

    def connection_lost(self, exc):
        self.broker._connections.discard(self)
        streams, self.streams = self.streams, {}
        for msg in streams.values():
            msg.cancel()

    def close(self):
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data):
        for body in self.reader.feed(data):
            self._request(body)

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

        def reply(payload, errnum, errstr):
            if errnum:
                frame = {"matchtag": matchtag, "errnum": errnum, "errstr": shorten(str(errstr))}
                self.streams.pop(matchtag, None)
            else:
                frame = {"matchtag": matchtag, "payload": payload}
            self._send(frame)

        msg = Message(topic, request.get("payload"), self.userid, self.rolemask, reply, streaming)
        if streaming:
            self.streams[matchtag] = msg
        self.broker.dispatch(msg)

    def _send(self, frame):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(wire.encode(frame))


def _request_header(request: dict) -> tuple[int, str]:
    """A request's matchtag and topic, or FrameError (with the matchtag if it is usable)."""
    matchtag = request.get("matchtag", 0)
    topic = request.get("topic")
    if type(matchtag) is not int or not isinstance(topic, str) or not topic:
        raise wire.FrameError("request frame needs a string 'topic' and an integer 'matchtag'",
                              matchtag if type(matchtag) is int else 0)
    return matchtag, topic
