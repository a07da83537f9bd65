"""Waiting: for one job to become inactive (``job-manager.wait``), for the queue to empty
(``drain``) or for nothing to be running (``idle``)."""

import errno
import os

from ..broker.message import RequestError
from ..states import Result, State


def job_outcome(job) -> dict:
    """``{id, success, errstr}`` as flux job wait reports it."""
    result = job.result
    if result == Result.COMPLETED:
        return {"id": job.id, "success": True, "errstr": ""}
    exception = job.exception
    if exception is not None:
        note = exception.get("note") or ""
        errstr = f"Fatal exception type={exception['type']} {note}".rstrip()
    elif job.waitstatus is not None:
        status = job.waitstatus
        if os.WIFSIGNALED(status):
            errstr = f"task(s) {_signal_name(os.WTERMSIG(status))}"
        else:
            errstr = f"task(s) exited with exit code {os.WEXITSTATUS(status)}"
    else:
        errstr = "job failed"
    return {"id": job.id, "success": False, "errstr": errstr}


def _signal_name(signum):
    import signal

    try:
        return f"killed by signal {signum} ({signal.Signals(signum).name})"
    except ValueError:
        return f"killed by signal {signum}"


class Wait:
    def __init__(self, manager):
        self.manager = manager
        # Waiters as dicts used as ordered sets: a client that goes away with thousands of
        # waits has each dropped in O(1).
        self.job_waiters: dict[int, dict] = {}
        self.drain_waiters: dict = {}
        self.idle_waiters: dict = {}

    def serve(self, msg):
        request = msg.payload_object()
        job = self.manager.job_for(msg, request.get("id"))
        if job.state == State.INACTIVE:
            msg.respond(job_outcome(job))
            return
        self.job_waiters.setdefault(job.id, {})[msg] = None
        msg.on_cancel(lambda m: self._forget(job.id, m))

    def _forget(self, job_id, msg):
        waiters = self.job_waiters.get(job_id)
        if waiters is not None:
            waiters.pop(msg, None)

    def job_inactive(self, job):
        for msg in self.job_waiters.pop(job.id, ()):
            msg.respond(job_outcome(job))
        if self.drain_waiters and not self.manager.active:
            waiters, self.drain_waiters = self.drain_waiters, {}
            for msg in waiters:
                msg.respond({})

    def running_changed(self):
        if self.idle_waiters and self.manager.running == 0:
            waiters, self.idle_waiters = self.idle_waiters, {}
            for msg in waiters:
                msg.respond({})

    def serve_drain(self, msg):
        if not self.manager.active:
            msg.respond({})
        else:
            self.drain_waiters[msg] = None
            msg.on_cancel(lambda m, waiters=self.drain_waiters: waiters.pop(m, None))

    def serve_idle(self, msg):
        if self.manager.running == 0:
            msg.respond({})
        else:
            self.idle_waiters[msg] = None
            msg.on_cancel(lambda m, waiters=self.idle_waiters: waiters.pop(m, None))


def require_job_id(job_id):
    if type(job_id) is not int or job_id <= 0:
        raise RequestError(errno.EPROTO, "a positive integer job 'id' is required")
    return job_id
