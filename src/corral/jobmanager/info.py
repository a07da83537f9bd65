"""Reading jobs: eventlogs (whole or watched), waiting for an event, jobspec and R, output.

Clients see only what is committed: an eventlog answer stops at the job's last committed
event, and watchers hear of later events as their batches commit.  Guests may read only their
own jobs.
"""

import codecs
import errno
import os

from ..broker.message import RequestError
from ..states import State

_OUTPUT_POLL = 0.1
_OUTPUT_CHUNK = 65536


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

    def _history(self, job) -> list[dict]:
        """The job's committed events (jobs reloaded from the store count as committed)."""
        if job.committed_seq >= job.seq:
            return self.manager.store.events(job.id)
        return self.manager.store.events(job.id, job.committed_seq)

    # --- eventlog -------------------------------------------------------------------------

    def serve_eventlog(self, msg):
        request = msg.payload_object()
        job = self.manager.job_for(msg, request.get("id"))
        history = self._history(job)
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
        for event in self._history(job):
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
                answer["eventlog"] = self._history(job)
            else:
                raise RequestError(errno.EINVAL, f"unknown key '{key}' (jobspec, R or eventlog)")
        msg.respond(answer)

    # --- output ---------------------------------------------------------------------------

    def serve_output(self, msg):
        """Stream a job's stdout and stderr: what exists now, then (``watch``) what comes,
        until its tasks are gone."""
        request = msg.payload_object()
        manager = self.manager
        job = manager.job_for(msg, request.get("id"))
        paths = manager.output_paths(job)
        readers = [_OutputReader(stream, path) for stream, path in paths]
        watch = bool(request.get("watch"))
        timer = None

        def poll(*_event):
            nonlocal timer
            if msg.cancelled:
                return
            finished = not watch or _tasks_done(job)
            for reader in readers:
                for chunk in reader.read():
                    msg.respond({"stream": reader.stream, "data": chunk})
                    if msg.congested:  # go on once the requester has read what it got
                        msg.when_drained(poll)
                        return
            if timer is not None:
                timer.cancel()
                timer = None
            if finished:
                self._unwatch(job.id, poll)
                msg.end_stream()
            else:
                timer = manager.loop.call_later(_OUTPUT_POLL, poll)

        if watch:
            # Each committed event may be the one that ends the tasks: look at once then,
            # instead of waiting for the next poll.
            self._watch(job.id, poll)
            msg.on_cancel(lambda _msg: self._unwatch(job.id, poll))
        poll()


class _OutputReader:
    __slots__ = ("stream", "path", "offset", "decoder")

    def __init__(self, stream, path):
        self.stream = stream
        self.path = path
        self.offset = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def read(self):
        try:
            with open(self.path, "rb") as file:
                file.seek(self.offset)
                while True:
                    data = file.read(_OUTPUT_CHUNK)
                    if not data:
                        return
                    self.offset += len(data)
                    text = self.decoder.decode(data)
                    if text:
                        yield text
        except FileNotFoundError:
            return
        except OSError as exc:
            yield f"corral: cannot read {self.path}: {os.strerror(exc.errno)}\n"


def _complete(job) -> bool:
    """Inactive with every event committed: nothing more will ever be added."""
    return job.state == State.INACTIVE and job.committed_seq >= job.seq


def _tasks_done(job) -> bool:
    if job.state == State.INACTIVE:
        return True
    return job.state == State.CLEANUP and not job.start_pending
