"""The client API: talk to a corral instance from Python (the CLI is a thin layer over it).

``connect()`` finds the instance from ``CORRAL_URI`` (``local:///path/to/local.sock``), else
the system instance when its socket exists (``/run/corral/local.sock``, see `corral.system`),
as Flux commands fall back on the system instance without ``FLUX_URI``.
Requests are pipelined: `send` returns a matchtag and `recv` waits for that tag's answer,
keeping others aside, so a client can keep many submissions in flight on one connection.

    with corral.client.connect() as client:
        job_id = client.submit(jobspec.build(["hostname"]))
        for event in client.watch_eventlog(job_id):
            print(event["name"])
"""

import errno
import os

# The C socket that `socket.socket` wraps: the `socket` module's enums and its `selectors`
# import cost every command about 4 ms of start-up, and a client needs none of them.
from _socket import AF_UNIX, SOCK_STREAM
from _socket import socket as unix_socket

from . import system
from .broker import wire
from .limits import MAX_REQUEST_FRAME

_MAX_BATCH = 1024


class RPCError(OSError):
    """An error answer ``(errno, text)`` from a service."""


class ConnectError(RPCError):
    """The instance cannot be reached."""


def _submit_item(jobspec: dict, urgency: int, flags: int, memo: dict | None) -> dict:
    """One job of a ``job-manager.submit`` request."""
    item = {"jobspec": jobspec, "urgency": urgency, "flags": flags}
    if memo is not None:
        item["memo"] = memo
    return item


def _socket_path(uri: str) -> str:
    if uri.startswith("local://"):
        return uri[len("local://"):]
    if uri.startswith("/"):
        return uri
    raise ConnectError(errno.EINVAL, f"unsupported corral URI '{uri}' (expected local://PATH)")


def _system_uri() -> str:
    """The system instance's URI if its socket exists, else `ConnectError` saying how to name
    an instance."""
    path = system.socket_path()
    if os.path.exists(path):
        return system.uri()
    raise ConnectError(errno.ENOENT, f"no instance to talk to: CORRAL_URI is not set and no "
                                     f"system instance has its socket at {path} (run 'corral "
                                     f"start' and export the CORRAL_URI it prints, or give "
                                     f"--uri)")


def connect(uri: str | None = None) -> "Client":
    return Client(uri)


class Client:
    def __init__(self, uri: str | None = None, on_behalf_of: int | None = None):
        """``on_behalf_of``: a uid every request is sent for (the instance owner's front
        ends only, e.g. ``corral web``; the instance gives it that user's roles)."""
        self.on_behalf_of = on_behalf_of
        uri = uri or os.environ.get("CORRAL_URI") or _system_uri()
        self.uri = uri
        self.sock = unix_socket(AF_UNIX, SOCK_STREAM)
        try:
            self.sock.connect(_socket_path(uri))
        except OSError as exc:
            self.sock.close()
            raise ConnectError(exc.errno or errno.ECONNREFUSED,
                               f"cannot connect to corral at {uri}: {exc.strerror}") from None
        self._reader = wire.FrameReader()
        self._next_tag = 1
        self._waiting: dict[int, list] = {}
        self._cancelled: set[int] = set()  # streams left before their end

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # --- messaging --------------------------------------------------------------------

    def send(self, topic: str, payload=None, streaming: bool = False) -> int:
        """Send one request; its matchtag.  `RPCError` if it cannot be sent as it is (text
        that is not UTF-8, a request over the instance's frame limit)."""
        tag = self._next_tag
        self._send(self._encode(topic, tag, payload, streaming), tag)
        return tag

    def _encode(self, topic: str, tag: int, payload, streaming: bool = False) -> bytes:
        # The matchtag goes first, where the instance looks for it in a frame it refuses.
        frame = {"matchtag": tag, "topic": topic, "payload": payload}
        if streaming:
            frame["streaming"] = True
        if self.on_behalf_of is not None:
            frame["userid"] = self.on_behalf_of
        try:
            return wire.encode(frame)
        except ValueError as exc:
            raise RPCError(errno.EINVAL, str(exc)) from None

    def _send(self, data: bytes, tag: int):
        if len(data) - wire.HEADER.size > MAX_REQUEST_FRAME:
            raise RPCError(errno.E2BIG, f"request of {len(data) - wire.HEADER.size} bytes "
                                        f"exceeds the {MAX_REQUEST_FRAME} byte frame limit")
        self._next_tag = tag + 1
        self._waiting[tag] = []
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            # The controller closed the connection, maybe after saying why (a refusal):
            # `recv` raises that reason if it is there.
            try:
                self.recv(tag, timeout=1)
            except ConnectionError:
                pass
            raise RPCError(errno.ECONNRESET,
                           f"corral at {self.uri} closed the connection") from None

    def recv(self, tag: int, timeout: float | None = None) -> dict:
        """The next response frame for ``tag`` (blocking)."""
        queue = self._waiting[tag]
        self.sock.settimeout(timeout)
        while not queue:
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                raise RPCError(errno.ETIMEDOUT, "timed out waiting for a response") from None
            if not data:
                raise RPCError(errno.ECONNRESET, f"corral at {self.uri} closed the connection")
            for body in self._reader.feed(data):
                frame = self._reply(body)
                tag_of_frame = frame.get("matchtag")
                waiting = self._waiting.get(tag_of_frame)
                if waiting is not None:
                    waiting.append(frame)
                elif tag_of_frame in self._cancelled:
                    # What a cancelled stream still sent; its error frame is its last.
                    if frame.get("errnum"):
                        self._cancelled.discard(tag_of_frame)
                elif frame.get("errnum"):
                    raise RPCError(frame["errnum"], frame.get("errstr"))
        return queue.pop(0)

    def _reply(self, body) -> dict:
        """One reply frame, or `RPCError` saying how it is malformed."""
        try:
            if isinstance(body, wire.FrameError):
                raise body
            frame = wire.decode_body(body)
        except ValueError as exc:
            raise RPCError(errno.EPROTO, f"malformed reply from {self.uri}: {exc}") from None
        if not isinstance(frame, dict) or type(frame.get("errnum", 0)) is not int or not \
                isinstance(frame.get("errstr", ""), (str, type(None))):
            raise RPCError(errno.EPROTO, f"malformed reply from {self.uri}: not a reply frame")
        return frame

    def _result(self, tag: int, frame: dict, final: bool = True):
        if frame.get("errnum"):
            self._waiting.pop(tag, None)
            raise RPCError(frame["errnum"], frame.get("errstr") or os.strerror(frame["errnum"]))
        if final:
            self._waiting.pop(tag, None)
        return frame.get("payload")

    def rpc(self, topic: str, payload=None, timeout: float | None = None):
        """Send one request and return its answer's payload (or raise `RPCError`)."""
        return self.answer(self.send(topic, payload), timeout)

    def answer(self, tag: int, timeout: float | None = None):
        """The payload of the answer to the request ``send`` gave ``tag`` (or `RPCError`):
        several requests sent first and answered after cost one round trip."""
        return self._result(tag, self.recv(tag, timeout))

    def stream(self, topic: str, payload=None, idle: float | None = None):
        """Yield the payloads of a streaming request until the service ends it; with
        ``idle``, also None each time that many seconds pass without one."""
        tag = self.send(topic, payload, streaming=True)
        try:
            while True:
                try:
                    frame = self.recv(tag, idle)
                except RPCError as exc:
                    if idle is None or exc.errno != errno.ETIMEDOUT:
                        raise
                    yield None
                    continue
                if frame.get("errnum") == errno.ENODATA:
                    self._waiting.pop(tag, None)
                    return
                yield self._result(tag, frame, final=False)
        finally:
            if tag in self._waiting:
                self._waiting.pop(tag, None)
                self._cancelled.add(tag)
                # Nothing to cancel once the connection is gone: the error that ended the
                # stream (the instance closed it) is the one the caller must see.
                try:
                    self.sock.sendall(wire.encode(
                        {"topic": "broker.cancel", "matchtag": 0, "payload": {"matchtag": tag}}
                    ))
                except OSError:
                    pass


    # --- jobs -------------------------------------------------------------------------

    def submit(self, jobspec: dict, urgency: int = 16, flags: int = 0,
               memo: dict | None = None) -> int:
        """Submit one job; its id, or `RPCError` with the reason it was refused.  ``memo``:
        the job's first user annotations (as `memo` would set them), there from the start."""
        answer = self.rpc("job-manager.submit",
                          {"jobs": [_submit_item(jobspec, urgency, flags, memo)]})
        result = answer["jobs"][0]
        if "errnum" in result:
            raise RPCError(result["errnum"], result["errstr"])
        return result["id"]

    def submit_many(self, jobspecs, urgency: int = 16, flags: int = 0, batch: int = _MAX_BATCH,
                    window: int = 8, progress=None, stop=None, memos=None) -> list:
        """Submit many jobs in batches, ``window`` batches in flight; returns, in order, an
        id or an `RPCError` for each jobspec.  A batch over the frame limit is split.
        ``memos``, if given, holds each job's memo (or None), in the jobspecs' order.
        ``progress(count)``, if given, hears how many jobs have been answered so far.
        ``stop()``, if given, is asked before each batch is sent: once it is true no more
        are sent, the answers to those in flight are awaited, and the list returned is
        shorter (the jobspecs after it were not submitted)."""
        jobspecs = list(jobspecs)
        memos = [None] * len(jobspecs) if memos is None else list(memos)
        sent = []  # a matchtag, or the RPCError of a job that could not be sent
        results = []
        for start in range(0, len(jobspecs), batch):
            if stop is not None and stop():
                break
            items = [_submit_item(spec, urgency, flags, memo)
                     for spec, memo in zip(jobspecs[start:start + batch],
                                           memos[start:start + batch], strict=True)]
            for request in self._send_submit(items):
                sent.append(request)
                if len(sent) >= window:
                    results.extend(self._submit_results(sent.pop(0)))
                    if progress is not None:
                        progress(len(results))
        for request in sent:
            results.extend(self._submit_results(request))
            if progress is not None:
                progress(len(results))
        return results

    def _send_submit(self, items):
        """Send ``items`` in as many submit requests as the frame limit needs; yield each
        request's matchtag (an `RPCError` in place of a job that cannot be sent alone)."""
        chunks = [items]
        while chunks:
            chunk = chunks.pop()
            tag = self._next_tag
            try:
                data = self._encode("job-manager.submit", tag, {"jobs": chunk})
                if len(data) - wire.HEADER.size > MAX_REQUEST_FRAME and len(chunk) > 1:
                    half = len(chunk) // 2
                    chunks += [chunk[half:], chunk[:half]]
                    continue
                self._send(data, tag)
            except RPCError as exc:
                if len(chunk) > 1:  # find the job at fault, send the others
                    half = len(chunk) // 2
                    chunks += [chunk[half:], chunk[:half]]
                    continue
                yield exc
                continue
            yield tag

    def _submit_results(self, request):
        if isinstance(request, RPCError):
            return [request]
        answer = self._result(request, self.recv(request))
        return [item["id"] if "id" in item else RPCError(item["errnum"], item["errstr"])
                for item in answer["jobs"]]

    def eventlog(self, job_id: int) -> list[dict]:
        return self.rpc("job-info.eventlog", {"id": job_id})["events"]

    def watch_eventlog(self, job_id: int, idle: float | None = None):
        """Yield a job's events as they are committed, ending when it becomes inactive; with
        ``idle``, None each time that many seconds pass without one."""
        for payload in self.stream("job-info.eventlog", {"id": job_id, "watch": True}, idle):
            yield payload if payload is None else payload["event"]

    def wait_event(self, job_id: int, name: str, timeout: float | None = None) -> dict:
        payload = {"id": job_id, "name": name}
        if timeout is not None:
            payload["timeout"] = timeout
        return self.rpc("job-info.wait-event", payload)["event"]

    def job_info(self, job_id: int, *keys: str) -> dict:
        return self.rpc("job-info.lookup", {"id": job_id, "keys": list(keys)})

    def jobs(self, states: int | None = None, results: int = 0, userid: int | None = None,
             limit: int = 0, since: float = 0) -> list[dict]:
        """Job summaries; ``since`` keeps only inactive jobs that ended at or after it."""
        payload = {"results": results, "max": limit}
        if since:
            payload["since"] = since
        if states is not None:
            payload["states"] = states
        if userid is not None:
            payload["userid"] = userid
        return self.rpc("job-list.list", payload)["jobs"]

    def job(self, job_id: int) -> dict:
        return self.rpc("job-list.list-id", {"id": job_id})["job"]

    def cancel(self, job_id: int, message: str = ""):
        self.rpc("job-manager.raise",
                 {"id": job_id, "type": "cancel", "severity": 0, "note": message})

    def raise_exception(self, job_id: int, type_: str, severity: int = 0, note: str = ""):
        self.rpc("job-manager.raise",
                 {"id": job_id, "type": type_, "severity": severity, "note": note})

    def kill(self, job_id: int, signum: int):
        self.rpc("job-manager.kill", {"id": job_id, "signum": signum})

    def set_urgency(self, job_id: int, urgency: int) -> int:
        return self.rpc("job-manager.urgency", {"id": job_id, "urgency": urgency})["old_urgency"]

    def wait(self, job_id: int | None = None) -> dict:
        """``{id, success, errstr}`` once the job is inactive; without an id, of the next
        waitable job of ours (`RPCError` ECHILD when there is none)."""
        return self.rpc("job-manager.wait", {} if job_id is None else {"id": job_id})

    def output(self, job_id: int, watch: bool = False, tail: int | None = None,
               step: int | None = None):
        """Yield ``(stream, text)`` chunks of a job's output (with ``tail``, from that many
        bytes before the end of each stream; with ``step``, of that job step)."""
        for chunk in self.output_chunks(job_id, watch, tail=tail, step=step):
            yield chunk["stream"], chunk["data"]

    def output_chunks(self, job_id: int, watch: bool = False, offsets: dict | None = None,
                      tail: int | None = None, step: int | None = None):
        """Yield a job's output as the service sends it: ``{"stream", "data", "end"}``, where
        ``end`` is the byte of the stream's file after ``data`` (absent for a line corral
        adds); ``offsets`` (``{stream: byte}``) starts each stream there."""
        request = {"id": job_id, "watch": watch}
        if offsets:
            request["offsets"] = offsets
        if tail is not None:
            request["tail"] = tail
        if step is not None:
            request["step"] = step
        yield from self.stream("job-info.output", request)
