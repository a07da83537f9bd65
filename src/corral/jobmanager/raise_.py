"""Exceptions raised by request: ``job-manager.raise`` (one job) and ``raiseall`` (many).

``corral cancel`` is a ``cancel`` exception of severity 0.  Guests may only raise
exceptions on their own jobs, and the exception records who raised it.

A streaming ``raiseall`` works through its jobs in slices of `RAISEALL_SLICE`, answering
``{"count", "total"}`` after each and letting the event loop run between them (so a cancel of
100,000 jobs neither holds the controller nor leaves its caller without news), then ends
with ENODATA.  A job that ended between slices is skipped.  Without streaming it answers once,
as Flux's does.
"""

import errno

from ..broker.message import RequestError
from ..broker.roles import ROLE_OWNER
from ..limits import MAX_TEXT
from ..states import State

#: Jobs a streaming ``raiseall`` raises on between two looks at the event loop.
RAISEALL_SLICE = 500


def check_exception_type(type_) -> str:
    if not isinstance(type_, str) or not type_ or any(c.isspace() or c == "=" for c in type_):
        raise RequestError(errno.EPROTO, "exception type must be a non-empty word without "
                                         "whitespace or '='")
    return type_


def check_severity(severity) -> int:
    if type(severity) is not int or not 0 <= severity <= 7:
        raise RequestError(errno.EPROTO, "exception severity must be an integer from 0 to 7")
    return severity


def check_note(note) -> str:
    if not isinstance(note, str):
        raise RequestError(errno.EPROTO, "exception note must be a string")
    if len(note) > MAX_TEXT:
        raise RequestError(errno.EINVAL, f"exception note is over the {MAX_TEXT} character "
                                         "limit")
    return note


def _check_type(request: dict, key: str, expected: type, default):
    """``request[key]`` if it is of type ``expected`` (bool is not an int here)."""
    value = request.get(key, default)
    if type(value) is not expected:
        raise RequestError(errno.EPROTO, f"raiseall: '{key}' must be "
                                         f"{'an integer' if expected is int else 'a boolean'}")
    return value


class Raise:
    def __init__(self, manager):
        self.manager = manager

    def serve(self, msg):
        request = msg.payload_object()
        job = self.manager.active_job_for(msg, request.get("id"))
        type_ = check_exception_type(request.get("type"))
        severity = check_severity(request.get("severity"))
        note = check_note(request.get("note", ""))
        if severity == 0 and job.state == State.NEW:
            raise RequestError(errno.EINVAL, "a fatal exception cannot be raised on a new job")
        self.manager.raise_exception(job, type_, severity, note, msg.userid)
        msg.respond({})

    def serve_all(self, msg):
        request = msg.payload_object()
        type_ = check_exception_type(request.get("type"))
        severity = check_severity(request.get("severity"))
        note = check_note(request.get("note", ""))
        states = _check_type(request, "states", int, int(State.PENDING | State.RUNNING))
        userid = _check_type(request, "userid", int, msg.userid)
        dry_run = _check_type(request, "dry_run", bool, False)
        if not msg.rolemask & ROLE_OWNER and userid != msg.userid:
            raise RequestError(errno.EPERM, "guests can only raise exceptions on their own jobs")
        targets = [
            job for job in self.manager.active.values()
            if job.state & states and job.state != State.NEW
            and (userid == -1 or job.userid == userid)
        ]
        if dry_run:
            msg.respond({"count": len(targets)})
        elif msg.streaming:
            self._raise_slices(msg, targets, (type_, severity, note), states, 0, 0)
        else:
            for job in targets:
                self.manager.raise_exception(job, type_, severity, note, msg.userid)
            msg.respond({"count": len(targets)})

    def _raise_slices(self, msg, targets, exception, states, start, count):
        if msg.cancelled:
            return
        manager = self.manager
        for job in targets[start:start + RAISEALL_SLICE]:
            if job.state & states and manager.active.get(job.id) is job:
                manager.raise_exception(job, *exception, msg.userid)
                count += 1
        start += RAISEALL_SLICE
        msg.respond({"count": count, "total": len(targets)})
        if start < len(targets):
            manager.loop.call_soon(self._raise_slices, msg, targets, exception, states, start,
                                   count)
        else:
            msg.end_stream()
