"""The ZeroMQ sockets of both ends: the options they share, the endpoints they accept, and
how the asyncio loop drives them.

Options: no high-water mark (a full queue would drop messages silently; the outboxes bound
what is kept), no linger at close, and ZMTP heartbeats, so a connection that went silent (a
cable pulled, a stopped process) is closed after ``unresponsive_after`` and made again, after
which the numbered messages are replayed.

`LoopSocket` drives a socket from the event loop the way `zmq.asyncio` does inside (a reader
on the socket's file descriptor, read until empty after every operation, as its
edge-triggered descriptor requires) but without a future per message: it reads every frame
that is ready in one callback and sends without waiting.  On this project's benchmark machine
that took the controller's CPU per message from about 100 µs with awaited `zmq.asyncio`
sends and receives to a fraction of it (``bench/transport.py``).
"""

import logging

import zmq

log = logging.getLogger("corral.transport")

SCHEMES = ("tcp://", "ipc://")
#: Plain integers: pyzmq's enum flags cost an enum operation per call on the hot path.
NOBLOCK = int(zmq.NOBLOCK)
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
    """A ZeroMQ socket read and written on the event loop: ``on_frame(parts)`` for each
    multipart message received (a list of `zmq.Frame`), `send` never waits."""

    __slots__ = ("loop", "socket", "on_frame", "fd", "_check_due")

    def __init__(self, loop, socket, on_frame):
        self.loop = loop
        self.socket = socket
        self.on_frame = on_frame
        self.fd = socket.getsockopt(zmq.FD)
        self._check_due = False
        loop.add_reader(self.fd, self._read)
        self._check()  # frames may have arrived before the reader was added

    def send(self, parts: list):
        """Queue ``parts`` for sending.  Nothing is lost if ZeroMQ refuses: every numbered
        message stays in its outbox until acknowledged."""
        try:
            self.socket.send_multipart(parts, NOBLOCK)
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
        for _ in range(BATCH):
            try:
                parts = socket.recv_multipart(NOBLOCK, copy=False)
            except zmq.Again:
                return
            try:
                self.on_frame(parts)
            except Exception:
                log.exception("transport: error handling a frame")
        self._check()  # more may be waiting: let the rest of the loop run first

    def close(self):
        self.loop.remove_reader(self.fd)
        self.socket.close(linger=0)
