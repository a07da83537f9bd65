"""Waiting: for jobs to become inactive (``job-manager.wait``), for the queue to empty
(``drain``) or for nothing to be running (``idle``).

A request with an ``id`` waits for that job, whatever its flags (``corral run`` waits so).
A request without one waits for any *waitable* job of the requester (submitted with the
``waitable`` flag), as Flux's ``FLUX_JOBID_ANY``: each such job is reported once, to the first
waiter, or kept as a zombie until a waiter comes; a waitable job waited for by id is reaped
as well.  With no waitable job left, active or zombie, the answer is ECHILD.  Zombies live in
memory: a restarted instance has none, as in Flux.
"""

import errno
import os

from ..broker.message import RequestError
from ..states import JOB_FLAGS, Result, State

WAITABLE = JOB_FLAGS["waitable"]


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
        self.any_waiters: dict[int, dict] = {}  # userid -> waiters for any waitable job
        self.zombies: dict[int, dict] = {}  # userid -> inactive waitable jobs not waited for
        self.waitable_active: dict[int, int] = {}  # userid -> active waitable jobs
        self.drain_waiters: dict = {}
        self.idle_waiters: dict = {}

    def serve(self, msg):
        request = msg.payload_object()
        if request.get("id") is None:
            self._serve_any(msg)
            return
        job = self.manager.job_for(msg, request.get("id"))
        if job.state == State.INACTIVE:
            self.zombies.get(job.userid, {}).pop(job.id, None)
            msg.respond(job_outcome(job))
            return
        self.job_waiters.setdefault(job.id, {})[msg] = None
        msg.on_cancel(lambda m: self._forget(job.id, m))

    def _serve_any(self, msg):
        userid = msg.userid
        zombies = self.zombies.get(userid)
        if zombies:
            job = zombies.pop(next(iter(zombies)))
            msg.respond(job_outcome(job))
            return
        waiters = self.any_waiters.setdefault(userid, {})
        # Each waiter needs a job of its own to come: more waiters than jobs would wait for
        # ever.
        if self.waitable_active.get(userid, 0) <= len(waiters):
            raise RequestError(errno.ECHILD, "there are no waitable jobs")
        waiters[msg] = None
        msg.on_cancel(lambda m: waiters.pop(m, None))

    def _forget(self, job_id, msg):
        waiters = self.job_waiters.get(job_id)
        if waiters is not None:
            waiters.pop(msg, None)

    def job_active(self, job):
        """A job was accepted (or reloaded at restart) as active."""
        if job.flags & WAITABLE:
            self.waitable_active[job.userid] = self.waitable_active.get(job.userid, 0) + 1

    def job_inactive(self, job):
        waiters = self.job_waiters.pop(job.id, ())
        for msg in waiters:
            msg.respond(job_outcome(job))
        if job.flags & WAITABLE:
            self._waitable_ended(job, bool(waiters))
        if self.drain_waiters and not self.manager.active:
            waiters, self.drain_waiters = self.drain_waiters, {}
            for msg in waiters:
                msg.respond({})

    def _waitable_ended(self, job, reaped: bool):
        """Report a waitable job to one waiter for any job, or keep it as a zombie (unless a
        waiter for it by id reaped it)."""
        # A flag set after submission (a plugin's set-flags) was never counted.
        count = self.waitable_active.get(job.userid, 0)
        if count:
            self.waitable_active[job.userid] = count - 1
        if reaped:
            return
        any_waiters = self.any_waiters.get(job.userid)
        if any_waiters:
            msg = next(iter(any_waiters))
            del any_waiters[msg]
            msg.respond(job_outcome(job))
        else:
            self.zombies.setdefault(job.userid, {})[job.id] = job

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
