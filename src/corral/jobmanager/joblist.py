"""Job listings (``corral jobs``): active jobs from memory, inactive ones from their summaries.

Pending jobs come first in scheduling order (priority, then id), then running jobs (newest
first), then inactive ones (most recently finished first), as ``flux jobs`` shows them.
``since`` keeps only the inactive jobs that ended at or after that time, so that a listing
of what is current (Slurm's ``squeue``) does not carry the whole history; ``queue`` keeps one
queue's jobs.  ``offset`` and ``max`` take one page of the listing (the web API's
pagination); only the jobs up to the page's end are ordered (a partial sort), so that a view
of the first screenful (``corral top``) costs little more than one pass over the jobs.

``job-list.job-stats`` counts jobs by state, in all and per queue, as Flux's does; it walks
the active jobs only (inactive ones are counted, not visited) and is open to every user, as
counts say nothing of whose jobs they are.
"""

import collections
import errno
import heapq

from ..broker.message import RequestError
from ..broker.roles import ROLE_OWNER
from ..slurm.states import QUEUE_STOPPED
from ..states import (
    INACTIVE,
    PRIORITY,
    RESULT_NAMES,
    RUNNING,
    SCHED,
    STATE_NAMES,
    State,
)
from .wait import WAITABLE

#: What a stopped queue overrides: a hold (urgency 0) or a requeue delay still says itself.
_QUEUE_REASONS = (None, "Priority", "Resources")

#: The active states ``job-stats`` counts, by the names Flux gives them there.
_STAT_NAMES = {int(state): STATE_NAMES[state].lower() for state in
               (State.DEPEND, State.PRIORITY, State.SCHED, State.RUN, State.CLEANUP)}
_STAT_STATES = tuple(_STAT_NAMES.values())


def _recent_first(job):
    return -(job.t_inactive or 0), -job.id


def _first(jobs, key, limit):
    """``jobs`` ordered by ``key``, only the first ``limit`` of them if ``limit`` > 0."""
    if limit > 0:
        return heapq.nsmallest(limit, jobs, key)
    return sorted(jobs, key=key)


def describe(job, queues) -> dict:
    info = job.summary()
    info["state_name"] = STATE_NAMES[State(job.state)]
    info["result_name"] = RESULT_NAMES[job.result] if job.result is not None else None
    if job.flags & WAITABLE and job.state != INACTIVE:  # (zombies are the job manager's)
        info["waitable"] = True
    if job.state & (PRIORITY | SCHED) and job.urgency and info["reason"] in _QUEUE_REASONS \
            and not queues.started(job.queue):
        info["reason"] = QUEUE_STOPPED  # nothing is allocated from it, whatever else holds
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
        queue = request.get("queue")
        if queue is not None and not isinstance(queue, str):
            raise RequestError(errno.EPROTO, "queue must be a string")
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
            if queue is not None and job.queue != queue:
                return False
            if results and job.state == INACTIVE:
                return job.result is not None and bool(job.result & results)
            return True

        manager = self.manager
        pending, running = [], []
        for job in manager.active.values():
            if wanted(job):
                # Plain ints (not State): this runs once per active job per listing.
                (running if job.state & RUNNING else pending).append(job)
        end = offset + limit if limit > 0 else 0  # the page's end: what must be ordered
        jobs = _first(pending, lambda job: (-job.priority, job.id), end)
        left = end - len(jobs) if end > 0 else 0
        if end <= 0 or left > 0:
            jobs += _first(running, lambda job: (-(job.t_run or 0), -job.id), left)
            left = end - len(jobs) if end > 0 else 0
        if states & State.INACTIVE and (end <= 0 or left > 0):
            jobs += self._recent_inactive(
                left if end > 0 else None,
                None if since == 0 and userid == -1 and not results and queue is None else
                lambda job: (job.t_inactive or 0) >= since and wanted(job))
        if offset or limit > 0:
            jobs = jobs[offset:offset + limit if limit > 0 else None]
        queues = manager.queues
        msg.respond({"jobs": [describe(job, queues) for job in jobs]})

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
        if count is not None and count * 10 < len(table):
            return heapq.nsmallest(count, candidates, key=_recent_first)
        return sorted(candidates, key=_recent_first)[:count]

    def serve_stats(self, msg):
        counts = dict.fromkeys(_STAT_STATES, 0)
        queues = {}
        pairs = collections.Counter((job.state, job.queue) for job in self.manager.active.values())
        for (state, queue), count in pairs.items():
            name = _STAT_NAMES.get(state)
            if name is not None:
                counts[name] += count
                by_queue = queues.setdefault(queue, dict.fromkeys(_STAT_STATES, 0))
                by_queue[name] += count
        counts["inactive"] = len(self.manager.inactive)
        counts["total"] = sum(counts.values())
        msg.respond({
            "job_states": counts,
            "queues": [{"name": name, "job_states": dict(by_queue, total=sum(by_queue.values()))}
                       for name, by_queue in queues.items() if name is not None],
        })

    def serve_list_id(self, msg):
        request = msg.payload_object()
        job = self.manager.job_for(msg, request.get("id"))
        msg.respond({"job": describe(job, self.manager.queues)})
