"""The ZeroMQ sockets of both ends: the options they share, the endpoints they accept, and
how the asyncio loop drives them.

Options: no high-water mark (a full queue would drop messages silently; the outboxes keep
what is not acknowledged anyway), no linger at close, and ZMTP heartbeats, so a connection
that went silent (a cable pulled, a stopped process) is closed after ``unresponsive_after``
and made again, after which the numbered messages are replayed.

`LoopSocket` drives a socket from the event loop the way `zmq.asyncio` does inside (a reader
on the socket's file descriptor, read until empty after every operation, as its
edge-triggered descriptor requires) but without a future per message: it reads every frame
that is ready in one callback and sends without waiting.  Awaited `zmq.asyncio` sends and
receives cost the controller about 100 µs of CPU per message in ``bench/transport.py``; this,
with a frame per loop turn (`link`), about 6 µs.
"""

import logging

import zmq

log = logging.getLogger("corral.transport")

SCHEMES = ("tcp://", "ipc://")
#: Plain integers: pyzmq's enum flags cost an enum operation per call on the hot path.
NOBLOCK = int(zmq.NOBLOCK)
MORE = int(zmq.NOBLOCK | zmq.SNDMORE)
#: Frames read in one callback before the rest of the loop gets a turn.
BATCH = 256


def check_endpoint(endpoint: str) -> str:
    """``endpoint`` if it is a tcp:// or ipc:// address; ValueError saying why not."""
    if not isinstance(endpoint, str) or not endpoint.startswith(SCHEMES) or \
            len(endpoint) <= len("tcp://"):
        raise ValueError(f"{endpoint!r} is not a transport endpoint (tcp://HOST:PORT or "
                         "ipc://PATH)")
    return endpoint


def milliseconds(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


def configure(socket, settings):
    socket.setsockopt(zmq.SNDHWM, 0)
    socket.setsockopt(zmq.RCVHWM, 0)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.HEARTBEAT_IVL, milliseconds(settings.heartbeat_interval))
    socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, milliseconds(settings.unresponsive_after))
    socket.setsockopt(zmq.HEARTBEAT_TTL, milliseconds(settings.unresponsive_after))


class LoopSocket:
    """A ZeroMQ socket read and written on the event loop.  ``receive(socket)`` reads and
    handles one message, raising `zmq.Again` when none is waiting (it chooses how to read:
    a `zmq.Frame`, which carries the connection's metadata, costs several times the plain
    bytes); `send` never waits."""

    __slots__ = ("loop", "socket", "receive", "fd", "_check_due")

    def __init__(self, loop, socket, receive):
        self.loop = loop
        self.socket = socket
        self.receive = receive
        self.fd = socket.getsockopt(zmq.FD)
        self._check_due = False
        loop.add_reader(self.fd, self._read)
        self._check()  # frames may have arrived before the reader was added

    def send(self, parts: list[bytes]):
        """Queue a message for sending.  Nothing is lost if ZeroMQ refuses: every numbered
        message stays in its outbox until acknowledged."""
        socket = self.socket
        try:
            for part in parts[:-1]:
                socket.send(part, MORE)
            socket.send(parts[-1], NOBLOCK)
        except zmq.Again:
            log.debug("transport: a frame could not be queued; it will be sent again")
        self._check()  # sending may have consumed the descriptor's readable edge

    def _check(self):
        if not self._check_due:
            self._check_due = True
            self.loop.call_soon(self._read)

    def _read(self):
        self._check_due = False
        socket = self.socket
        if socket.closed:
            return
        receive = self.receive
        for _ in range(BATCH):
            try:
                receive(socket)
            except zmq.Again:
                return
            except Exception:
                log.exception("transport: error handling a frame")
        self._check()  # more may be waiting: let the rest of the loop run first

    def close(self):
        self.loop.remove_reader(self.fd)
        self.socket.close(linger=0)
