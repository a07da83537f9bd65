"""Reading jobs: eventlogs (whole or watched), waiting for an event, jobspec and R, output.

Clients see only what is committed: an eventlog answer stops at the job's last committed
event, and watchers hear of later events as their batches commit.  Guests may read only their
own jobs, and a job's output only with its user's rights: the instance runs as root, so an
output path opened with its own rights would let anyone read any file.
"""

import asyncio
import codecs
import errno
import os
import stat
from concurrent.futures import ThreadPoolExecutor

from .. import identity, output
from ..broker.message import RequestError
from ..states import State

_OUTPUT_POLL = 0.1
_OUTPUT_CHUNK = 65536
_KEPT_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
#: O_NONBLOCK: opening a FIFO does not wait for a writer (it is refused once open).
_USER_FILE_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_PROC_DEVICE = os.stat("/proc").st_dev
_DEV_NULL = os.stat(os.devnull).st_rdev
_UNKNOWN = object()
#: Threads that open the files users named (a path on a hung file system holds one).
_OPENERS = ThreadPoolExecutor(4, thread_name_prefix="corral-output-open")


class Info:
    def __init__(self, manager):
        self.manager = manager
        self.watchers: dict[int, list] = {}

    # --- commit notifications -------------------------------------------------------------

    def committed(self, items):
        """The store committed these ``(job, seq, event)``: update jobs, feed watchers."""
        watchers = self.watchers
        if not watchers:
            for job, seq, _event in items:
                job.committed_seq = seq + 1
            return
        for job, seq, event in items:
            job.committed_seq = seq + 1
            job_watchers = watchers.get(job.id)
            if job_watchers:
                for watcher in list(job_watchers):
                    watcher(job, event)

    def _watch(self, job_id, callback):
        self.watchers.setdefault(job_id, []).append(callback)

    def _unwatch(self, job_id, callback):
        callbacks = self.watchers.get(job_id)
        if callbacks and callback in callbacks:
            callbacks.remove(callback)
            if not callbacks:
                del self.watchers[job_id]

    def history(self, job) -> list[dict]:
        """The job's committed events (jobs reloaded from the store count as committed)."""
        if job.committed_seq >= job.seq:
            return self.manager.store.events(job.id)
        return self.manager.store.events(job.id, job.committed_seq)

    # --- eventlog -------------------------------------------------------------------------

    def serve_eventlog(self, msg):
        request = msg.payload_object()
        job = self.manager.job_for(msg, request.get("id"))
        history = self.history(job)
        if not request.get("watch"):
            msg.respond({"events": history})
            return
        for event in history:
            msg.respond({"event": event})
        if _complete(job):
            msg.end_stream()
            return

        def deliver(job, event):
            msg.respond({"event": event})
            if event["name"] == "clean":
                self._unwatch(job.id, deliver)
                msg.end_stream()

        self._watch(job.id, deliver)
        msg.on_cancel(lambda _msg: self._unwatch(job.id, deliver))

    def serve_wait_event(self, msg):
        request = msg.payload_object()
        job = self.manager.job_for(msg, request.get("id"))
        name = request.get("name")
        timeout = request.get("timeout")
        if not isinstance(name, str) or not name:
            raise RequestError(errno.EPROTO, "wait-event needs an event 'name'")
        for event in self.history(job):
            if event["name"] == name:
                msg.respond({"event": event})
                return
        if _complete(job):
            raise RequestError(errno.ENODATA,
                               f"job {job.id} is inactive and has no '{name}' event")
        loop = self.manager.loop
        timer = None

        def deliver(job, event):
            if event["name"] == name:
                finish()
                msg.respond({"event": event})
            elif event["name"] == "clean":
                finish()
                msg.respond_error(errno.ENODATA,
                                  f"job {job.id} became inactive without a '{name}' event")

        def expired():
            finish()
            msg.respond_error(errno.ETIMEDOUT,
                              f"timed out waiting for event '{name}' on job {job.id}")

        def finish():
            self._unwatch(job.id, deliver)
            if timer is not None:
                timer.cancel()

        self._watch(job.id, deliver)
        if timeout is not None:
            if not isinstance(timeout, int | float) or timeout < 0:
                raise RequestError(errno.EPROTO, "wait-event timeout must be a number >= 0")
            timer = loop.call_later(timeout, expired)
        msg.on_cancel(lambda _msg: finish())

    # --- jobspec and R --------------------------------------------------------------------

    def serve_lookup(self, msg):
        request = msg.payload_object()
        job = self.manager.job_for(msg, request.get("id"))
        keys = request.get("keys", ["jobspec", "R", "eventlog"])
        if not isinstance(keys, list):
            raise RequestError(errno.EPROTO, "lookup 'keys' must be an array")
        answer = {"id": job.id}
        for key in keys:
            if key == "jobspec":
                answer["jobspec"] = self.manager.full_jobspec(job)
            elif key == "R":
                R = job.R if job.R is not None else self.manager.stored_jobspec_and_R(job)[1]
                if R is None:
                    raise RequestError(errno.ENOENT, f"job {job.id} has no R (not allocated)")
                answer["R"] = R
            elif key == "eventlog":
                answer["eventlog"] = self.history(job)
            else:
                raise RequestError(errno.EINVAL, f"unknown key '{key}' (jobspec, R or eventlog)")
        msg.respond(answer)

    # --- output ---------------------------------------------------------------------------

    def serve_output(self, msg):
        """Stream a job's stdout and stderr: what exists now (with ``tail``, only the last
        that many bytes of each), then (``watch``) what comes, until its tasks are gone.
        Each chunk read from a file says where in it it ends (``end``, in bytes), so that a
        client whose connection broke (the controller restarted) asks again from there
        (``offsets``: ``{stream: byte}``).  With ``step``, the output of that job step kept
        with the job, until the step ends."""
        request = msg.payload_object()
        manager = self.manager
        job = manager.job_for(msg, request.get("id"))
        tail, step = request.get("tail"), request.get("step")
        if tail is not None and (type(tail) is not int or tail < 0):
            raise RequestError(errno.EPROTO, "tail must be a number of bytes >= 0")
        offsets = request.get("offsets") or {}
        if not isinstance(offsets, dict) or not all(
                type(offset) is int and offset >= 0 for offset in offsets.values()):
            raise RequestError(errno.EPROTO, "offsets must map streams to byte offsets")
        if step is not None:
            if type(step) is not int:
                raise RequestError(errno.EPROTO, "step must be an integer")
            readers = [_OutputReader(stream, path, None, offsets.get(stream, 0), tail)
                       for stream, path in manager.steps.output_paths(job, step)]
            return self._stream_output(msg, job, readers, bool(request.get("watch")),
                                       lambda job: not manager.steps.running(job.id, step))
        kept = output.kept_paths(job.id, manager.output_dir)
        readers = [_OutputReader(stream, path, None if path in kept else job.userid,
                                 offsets.get(stream, 0), tail)
                   for stream, path in manager.output_paths(job)]
        return self._stream_output(msg, job, readers, bool(request.get("watch")))

    async def _stream_output(self, msg, job, readers, watch, done=None):
        streaming = asyncio.current_task()
        msg.on_cancel(lambda _msg: streaming.cancel())
        changed = asyncio.Event()

        def wake(*_event):
            changed.set()

        if watch:
            # Each committed event may be the one that ends the tasks: look at once then,
            # instead of waiting for the next poll.
            self._watch(job.id, wake)
        try:
            while True:
                finished = not watch or (done or _tasks_done)(job)
                for reader in readers:
                    await reader.open()
                    for stream, text, end in reader.read():
                        chunk = {"stream": stream, "data": text}
                        if end is not None:
                            chunk["end"] = end
                        msg.respond(chunk)
                        while msg.congested:  # go on once the requester has read what it got
                            changed.clear()
                            msg.when_drained(wake)
                            await changed.wait()
                if finished:
                    msg.end_stream()
                    return
                changed.clear()
                timer = self.manager.loop.call_later(_OUTPUT_POLL, wake)
                await changed.wait()
                timer.cancel()
        finally:
            if watch:
                self._unwatch(job.id, wake)
            for reader in readers:
                reader.close()


class _OutputReader:
    """One output file streamed to a client: opened once it exists, then read on from where it
    stopped.  A file kept with the job is the instance's own; a path the user named is opened
    with the user's rights in a worker thread (`_open_users_file`), so that it shows nothing
    its user could not read and no ``open()`` can hold the event loop."""

    __slots__ = ("stream", "path", "userid", "identity", "fd", "ended", "failure", "decoder",
                 "position", "tail")

    def __init__(self, stream, path, userid, position=0, tail=None):
        """``position``: the byte of the file to start from; ``tail``: start that many
        bytes before its end instead."""
        self.position = position
        self.stream = stream
        self.path = path
        self.userid = userid  # None: kept with the job
        self.tail = tail  # start this many bytes before the end (None: at the start)
        self.identity = _UNKNOWN  # the user's, looked up once (a file may be long in coming)
        self.fd = None
        self.ended = False  # nothing more will be read
        self.failure = None  # the line that says why, until it is sent
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    async def open(self):
        if self.fd is not None or self.ended:
            return
        try:
            if self.userid is None:
                self.fd = os.open(self.path, _KEPT_FILE_FLAGS)
            else:
                opening = _OPENERS.submit(self._open_as_user)
                try:
                    self.fd = await asyncio.wrap_future(opening)
                except asyncio.CancelledError:
                    opening.add_done_callback(_close_opened)
                    raise
                self.ended = self.fd is None
        except FileNotFoundError:
            return  # not written yet
        except OSError as exc:
            self._fail(exc)
            return
        if self.fd is None:
            return
        if self.tail is not None:
            self._skip_to_tail()
        elif self.position:
            os.lseek(self.fd, self.position, os.SEEK_SET)

    def _skip_to_tail(self):
        """The last ``tail`` bytes only (``corral top`` shows the end of a long output);
        the first line may then be cut, and a character cut in two reads as U+FFFD."""
        size = os.fstat(self.fd).st_size
        if size > self.tail:
            self.position = size - self.tail
            os.lseek(self.fd, self.position, os.SEEK_SET)

    def _open_as_user(self) -> int | None:
        """Runs in a worker thread (user databases and file systems may be slow)."""
        if self.identity is _UNKNOWN:
            self.identity = identity.of_user(self.userid)
        return _open_users_file(self.identity, self.userid, self.path)

    def read(self):
        """``(stream, text, end)`` chunks of what was added since the last read; ``end`` is
        the byte of the file after ``text`` (None for a line that is not the file's)."""
        if self.fd is not None:
            try:
                while data := os.read(self.fd, _OUTPUT_CHUNK):
                    self.position += len(data)
                    text = self.decoder.decode(data)
                    if text:
                        # Bytes of a character cut in two wait in the decoder.
                        yield self.stream, text, self.position - len(self.decoder.getstate()[0])
            except OSError as exc:
                self.close()
                self._fail(exc)
        if self.failure is not None:
            yield "stderr", self.failure, None
            self.failure = None

    def _fail(self, exc: OSError):
        self.ended = True
        self.failure = f"corral: cannot read {self.path}: {exc.strerror or exc}\n"

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _open_users_file(user, userid: int, path: str) -> int | None:
    """``path`` opened for reading with the rights of ``user`` (uid ``userid``), if it is a
    regular file of theirs (never a FIFO or device, which could block or never end, nor a file
    of /proc, which describes the process that opens it); None for /dev/null, where nothing is
    kept."""
    fd = identity.open_as(user, path, _USER_FILE_FLAGS)
    try:
        info = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if stat.S_ISREG(info.st_mode) and info.st_dev != _PROC_DEVICE and info.st_uid == userid:
        return fd
    os.close(fd)
    if stat.S_ISCHR(info.st_mode) and info.st_rdev == _DEV_NULL:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise OSError(errno.EACCES, "not a regular file")
    if info.st_dev == _PROC_DEVICE:
        raise OSError(errno.EACCES, "a file of /proc")
    raise OSError(errno.EACCES, "not owned by the job's user")


def _close_opened(opening):
    """A file opened for a client that went away meanwhile."""
    if not opening.cancelled() and opening.exception() is None and opening.result() is not None:
        os.close(opening.result())


def _complete(job) -> bool:
    """Inactive with every event committed: nothing more will ever be added."""
    return job.state == State.INACTIVE and job.committed_seq >= job.seq


def _tasks_done(job) -> bool:
    if job.state == State.INACTIVE:
        return True
    return job.state == State.CLEANUP and not job.start_pending
