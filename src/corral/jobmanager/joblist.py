"""Job listings (``corral jobs``): active jobs from memory, inactive ones from their summaries.

Pending jobs come first in scheduling order (priority, then id), then running jobs (newest
first), then inactive ones (most recently finished first), as ``flux jobs`` shows them.
``since`` keeps only the inactive jobs that ended at or after that time, so that a listing
of what is current (Slurm's ``squeue``) does not carry the whole history; ``offset`` and
``max`` take one page of the listing (the web API's pagination).
"""

import errno
import heapq

from ..broker.message import RequestError
from ..broker.roles import ROLE_OWNER
from ..states import (
    RESULT_NAMES,
    STATE_NAMES,
    State,
)


def _recent_first(job):
    return -(job.t_inactive or 0), -job.id


def describe(job) -> dict:
    info = job.summary()
    info["state_name"] = STATE_NAMES[State(job.state)]
    info["result_name"] = RESULT_NAMES[job.result] if job.result is not None else None
    return info


class JobList:
    def __init__(self, manager):
        self.manager = manager

    def serve_list(self, msg):
        request = msg.payload_object()
        states = request.get("states", int(State.ACTIVE | State.INACTIVE))
        results = request.get("results", 0)
        userid = request.get("userid", msg.userid)
        limit = request.get("max", 0)
        offset = request.get("offset", 0)
        since = request.get("since", 0)
        if type(since) not in (int, float):
            raise RequestError(errno.EPROTO, "since must be a number (epoch seconds)")
        if type(states) is not int or type(results) is not int or type(limit) is not int \
                or type(offset) is not int or offset < 0:
            raise RequestError(errno.EPROTO, "states, results and max must be integers, "
                                             "offset a non-negative integer")
        if not msg.rolemask & ROLE_OWNER and userid != msg.userid:
            raise RequestError(errno.EPERM, "guests may only list their own jobs")
        if type(userid) is not int:
            raise RequestError(errno.EPROTO, "userid must be an integer (-1 for all users)")

        def wanted(job):
            if not job.state & states:
                return False
            if userid != -1 and job.userid != userid:
                return False
            if results and job.state == State.INACTIVE:
                return job.result is not None and bool(job.result & results)
            return not results or job.state == State.INACTIVE

        manager = self.manager
        pending, running = [], []
        for job in manager.active.values():
            if wanted(job):
                (running if job.state & State.RUNNING else pending).append(job)
        pending.sort(key=lambda job: (-job.priority, job.id))
        running.sort(key=lambda job: (-(job.t_run or 0), -job.id))
        inactive = []
        if states & State.INACTIVE:
            inactive = self._recent_inactive(
                None if limit <= 0 else offset + limit - len(pending) - len(running),
                None if since == 0 and userid == -1 and not results else
                lambda job: (job.t_inactive or 0) >= since and wanted(job))
        jobs = pending + running + inactive
        if offset or limit > 0:
            jobs = jobs[offset:offset + limit if limit > 0 else None]
        msg.respond({"jobs": [describe(job) for job in jobs]})

    def _recent_inactive(self, count, wanted) -> list:
        """The first ``count`` (None: all) inactive jobs ``wanted`` keeps (None: every one),
        most recently ended first.  Jobs become inactive in time order, so the table read
        backwards is nearly in order already: the first page of a long history is picked in
        one pass (`heapq.nsmallest`) instead of a sort of all of it; a page deep in it, where
        that pass would cost more than the sort, comes from the sort."""
        table = self.manager.inactive
        candidates = reversed(table.values())
        if wanted is not None:
            candidates = filter(wanted, candidates)
        if count is not None and count <= 0:
            return []
        if count is not None and count * 10 < len(table):
            return heapq.nsmallest(count, candidates, key=_recent_first)
        return sorted(candidates, key=_recent_first)[:count]

    def serve_list_id(self, msg):
        request = msg.payload_object()
        job = self.manager.job_for(msg, request.get("id"))
        msg.respond({"job": describe(job)})
