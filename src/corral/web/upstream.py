"""One pipelined connection from ``corral web`` to its instance, on asyncio.

Requests carry the uid of the user the web server authenticated (`Client.on_behalf_of`'s
frame field): the instance accepts that only from its owner and gives the request that
user's roles.  Answers are matched by matchtag, so requests from many HTTP clients share
the connection; a lost connection fails what waits on it and the next request reconnects.
"""

import asyncio
import errno
import itertools

from ..broker import wire
from ..client import RPCError, _socket_path


class Upstream:
    def __init__(self, uri: str):
        self.uri = uri
        self.path = _socket_path(uri)
        self._writer = None
        self._reader_task = None
        self._waiting: dict[int, asyncio.Queue] = {}
        self._tags = itertools.count(1)
        self._connecting = asyncio.Lock()

    async def _connection(self):
        async with self._connecting:
            if self._writer is None or self._writer.is_closing():
                try:
                    reader, self._writer = await asyncio.open_unix_connection(self.path)
                except OSError as exc:
                    raise RPCError(errno.ECONNREFUSED, f"cannot connect to corral at "
                                                       f"{self.uri}: {exc.strerror}") from None
                self._reader_task = asyncio.ensure_future(self._read(reader))
            return self._writer

    async def _read(self, reader):
        frames = wire.FrameReader()
        try:
            while data := await reader.read(1 << 20):
                for body in frames.feed(data):
                    if isinstance(body, wire.FrameError):  # a reply too large to read
                        frame = {"matchtag": body.matchtag, "errnum": errno.E2BIG,
                                 "errstr": str(body)}
                    else:
                        frame = wire.decode_body(body)
                    if not isinstance(frame, dict):
                        continue
                    queue = self._waiting.get(frame.get("matchtag"))
                    if queue is not None:
                        queue.put_nowait(frame)
        except (OSError, ValueError):
            pass
        lost = {"errnum": errno.ECONNRESET, "errstr": f"corral at {self.uri} closed the "
                                                      "connection"}
        self._writer = None
        for queue in self._waiting.values():
            queue.put_nowait(lost)

    async def _send(self, topic, payload, userid, streaming=False) -> int:
        writer = await self._connection()
        tag = next(self._tags)
        frame = {"matchtag": tag, "topic": topic, "payload": payload}
        if userid is not None:
            frame["userid"] = userid
        if streaming:
            frame["streaming"] = True
        try:
            data = wire.encode(frame)
        except ValueError as exc:
            raise RPCError(errno.EINVAL, str(exc)) from None
        self._waiting[tag] = asyncio.Queue()
        writer.write(data)
        return tag

    async def rpc(self, topic: str, payload=None, userid: int | None = None):
        """One request's answer payload, or `RPCError`; ``userid``: the user it is for
        (None: the web server itself, the instance owner)."""
        tag = await self._send(topic, payload, userid)
        try:
            return _payload(await self._waiting[tag].get())
        finally:
            del self._waiting[tag]

    async def stream(self, topic: str, payload=None, userid: int | None = None):
        """Yield a streaming request's payloads until the service ends it; leaving early
        cancels the request in the instance."""
        tag = await self._send(topic, payload, userid, streaming=True)
        ended = False
        try:
            while True:
                frame = await self._waiting[tag].get()
                if frame.get("errnum"):
                    ended = True
                    if frame["errnum"] == errno.ENODATA:
                        return
                    _payload(frame)
                yield frame.get("payload")
        finally:
            del self._waiting[tag]
            if not ended and self._writer is not None:
                self._writer.write(wire.encode({"topic": "broker.cancel", "matchtag": 0,
                                                "payload": {"matchtag": tag}}))

    async def close(self):
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            await self._reader_task


def _payload(frame):
    if frame.get("errnum"):
        raise RPCError(frame["errnum"], frame.get("errstr") or "error")
    return frame.get("payload")
