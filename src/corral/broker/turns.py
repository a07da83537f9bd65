"""Fair turns for socket requests, and the limits that keep one client from taking them all.

The controller is one event loop, so a client that pipelines thousands of requests would, if
each were handled as its bytes arrived, keep everyone else waiting until it is done.  Instead
a connection queues its complete frames, and the broker serves them in turns: each loop turn
takes `REQUESTS_PER_TURN` requests from one connection of every user that has some waiting,
round-robin over users and over each user's connections, then lets the loop read the sockets
again.  One user's load costs another at most one request per turn, however many connections
or requests it has.

The limits (`Limits`), each with a clear refusal or a pause instead of unbounded memory:

* connections: at most ``[access] max-connections`` in all (capped at a quarter of the open
  file limit, so that connections can never take the file descriptors jobs need) and
  ``[access] max-connections-per-user`` per user other than the instance owner; the owner
  keeps `OWNER_RESERVE` connections beyond the total, so it can always look and act;
* unfinished frames: a user other than the owner whose connections hold more than
  `UNFINISHED_BYTES_PER_USER` of frames not yet complete is not read on the connections that
  add to them (but one) until they hold half as much, so huge frames sent slowly on many
  connections cannot fill memory;
* input: a connection whose queued requests exceed `PENDING_REQUESTS` or `PENDING_BYTES` is
  not read until half of them are served (the client's writes block: back-pressure), and no
  more of its requests are served while `MAX_OUTSTANDING` of them wait for an answer (waits,
  watches), so what one client can keep registered in the services is bounded;
* output: a connection whose client does not read its replies (the transport's write buffer
  above `WRITE_HIGH`) gets no more of its requests served until the buffer drains below
  `WRITE_LOW`, and streaming services can wait for that drain (`Message.when_drained`); one
  whose buffer still grows past `WRITE_LIMIT` (a stream that does not wait) is closed.
"""

import asyncio
import resource
from collections import OrderedDict, deque

REQUESTS_PER_TURN = 1
PENDING_REQUESTS = 256
PENDING_BYTES = 4 << 20
UNFINISHED_BYTES_PER_USER = 64 << 20
MAX_OUTSTANDING = 1024
WRITE_HIGH = 1 << 20
WRITE_LOW = 256 << 10
WRITE_LIMIT = 64 << 20
OWNER_RESERVE = 16

DEFAULT_MAX_CONNECTIONS = 1024
DEFAULT_MAX_CONNECTIONS_PER_USER = 64


class Limits:
    """How many connections the broker accepts, in all and per user."""

    __slots__ = ("max_connections", "max_connections_per_user")

    def __init__(self, max_connections=DEFAULT_MAX_CONNECTIONS,
                 max_connections_per_user=DEFAULT_MAX_CONNECTIONS_PER_USER):
        open_files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.max_connections = min(max_connections, max(open_files // 4, 1))
        self.max_connections_per_user = max_connections_per_user

    @classmethod
    def from_config(cls, config):
        """``[access] max-connections`` and ``max-connections-per-user`` (positive ints)."""
        values = []
        for key, default in (("access.max-connections", DEFAULT_MAX_CONNECTIONS),
                             ("access.max-connections-per-user",
                              DEFAULT_MAX_CONNECTIONS_PER_USER)):
            value = config.get_int(key, default)
            if value < 1:
                raise config.error(key, "must be at least 1")
            values.append(value)
        return cls(*values)


class Turns:
    """Connections with requests waiting, served round-robin by user, then by connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self._users: OrderedDict[int, deque] = OrderedDict()
        self._scheduled = False

    def ready(self, connection):
        """``connection`` has requests it may have served (idempotent)."""
        if connection.in_turns:
            return
        connection.in_turns = True
        connections = self._users.get(connection.userid)
        if connections is None:
            connections = self._users[connection.userid] = deque()
        connections.append(connection)
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._turn)

    def _turn(self):
        self._scheduled = False
        users = self._users
        for userid in list(users):
            connections = users[userid]
            connection = connections.popleft()
            connection.in_turns = False
            if connection.serve_pending(REQUESTS_PER_TURN):
                connection.in_turns = True
                connections.append(connection)
            if connections:
                users.move_to_end(userid)
            else:
                del users[userid]
        if users and not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._turn)
