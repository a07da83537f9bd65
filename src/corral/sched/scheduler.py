"""FCFS scheduling over the resource pool (Flux's sched-simple policy).

Requests wait in priority order; a pass allocates from the head until the head does not fit.
A pass runs once per loop iteration after anything that could change the answer (a new
request, freed resources, a priority change, an undrained node), so a burst of events costs
one pass, not one per event.
"""

import logging
import time

from .. import resource_set
from .queue import PendingQueue

log = logging.getLogger("corral.sched")


class Scheduler:
    def __init__(self, loop, pool, respond):
        """``respond`` receives ``allocated(job, R, annotations, ranks)`` (``ranks`` is
        ``{rank: (core ids, gpu ids)}``, what R says, already decoded) and
        ``denied(job, note)``."""
        self.loop = loop
        self.pool = pool
        self.respond = respond
        self.pending = PendingQueue()
        self.placements: dict[int, dict] = {}
        self._pass_scheduled = False

    def request(self, job):
        if not self.pool.feasible(job.request):
            self.loop.call_soon(self.respond.denied, job, "unsatisfiable request")
            return
        self.pending.push(job)
        self._schedule_soon()

    def cancel(self, job) -> bool:
        """Drop a pending request; False if there was none (already allocated)."""
        return self.pending.remove(job)

    def prioritize(self, jobs):
        """New priorities for pending requests: one job is re-placed, many are re-sorted."""
        if not jobs:
            return
        if len(jobs) == 1:
            self.pending.reorder(jobs[0])
        else:
            self.pending.resort()
        self._schedule_soon()

    def free(self, job):
        """Return everything the job still holds."""
        placement = self.placements.pop(job.id, None)
        if placement:
            self.pool.release(placement)
            self._schedule_soon()

    def release(self, job, ranks):
        """Return the resources of some ranks before the job's ``free``."""
        placement = self.placements.get(job.id)
        if placement:
            self.pool.release(placement, ranks)
            self._schedule_soon()

    def reserve(self, job, released=()):
        """A job that holds resources at restart keeps them (but for the ``released`` ranks
        it had already given back)."""
        ranks = {rank: ids for rank, ids in job.ranks.items() if rank not in released}
        self.placements[job.id] = self.pool.reserve(ranks)

    def resources_changed(self):
        self._schedule_soon()

    def _schedule_soon(self):
        if not self._pass_scheduled:
            self._pass_scheduled = True
            self.loop.call_soon(self._schedule)

    def _schedule(self):
        self._pass_scheduled = False
        pending = self.pending
        pool = self.pool
        names = None
        while True:
            job = pending.peek()
            if job is None:
                return
            placement = pool.allocate(job.request)
            if placement is None:
                return
            pending.pop()
            self.placements[job.id] = placement
            if names is None:
                names = pool.node_names()
            now = time.time()
            duration = job.request.duration
            ranks = pool.ids(placement)
            R = resource_set.build(ranks, names, now, now + duration if duration else 0.0)
            annotations = {"sched": {"resource_summary": resource_set.summary(R)}}
            try:
                self.respond.allocated(job, R, annotations, ranks)
            except Exception:
                log.exception("job %d: error handling its allocation", job.id)
