"""The ZeroMQ socket options both ends share, and the endpoints they accept.

No high-water mark (a full queue would drop messages silently; the outboxes bound what is
kept), no linger at close, and ZMTP heartbeats so a connection that went silent (a cable
pulled, a stopped process) is closed after ``unresponsive_after`` and made again, after which
the numbered messages are replayed.
"""

import zmq

SCHEMES = ("tcp://", "ipc://")


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
