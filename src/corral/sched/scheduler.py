"""The scheduler: pending allocation requests, the resource pool, and one pass to match them.

The job manager sends a request when a job reaches SCHED with a non-zero priority, cancels it
when the job leaves SCHED, and frees resources when a job releases them.  The scheduler reads
of a request only its id, priority, queue and resource request (``job.request``), and answers
through ``respond``: ``allocated``, ``denied``, and ``annotate`` for what a waiting job is
told (its reservation, ``sched.t_estimate``, and why it waits, ``sched.reason_pending``).

A pass walks the pending jobs in priority order (the first ``[sched] queue-depth`` of them)
and asks each queue's policy (`fcfs`, `easy`,
`conservative`) what a job that does not fit gets; a job starts only where the pass's
`Profile` says it delays no reservation.  A pass runs once per loop iteration after anything
that could change the answer (a new request, freed resources, a priority change, an undrained
node), so a burst of events costs one pass, and nothing runs while nothing changes.
"""

import contextlib
import logging
import time

from .. import resource_set
from .policies import QueuePolicies
from .profile import Profile
from .queue import PendingQueue

log = logging.getLogger("corral.sched")

#: What a waiting job that a reservation or its queue's head holds back is told (Slurm's).
REASON_RESOURCES = "Resources"


class Scheduler:
    def __init__(self, loop, pool, respond, policies: QueuePolicies | None = None):
        """``respond`` receives ``allocated(job, R, annotations, ranks)`` (``ranks`` is
        ``{rank: (core ids, gpu ids)}``, what R says, already decoded), ``denied(job, note)``
        and ``annotate(job, annotations)``."""
        self.loop = loop
        self.pool = pool
        self.respond = respond
        self.policies = policies or QueuePolicies()
        self.pending = PendingQueue()
        self.placements: dict[int, dict] = {}
        #: Per running job: ``(expected end, {rank: (cores, gpus)})`` for the profile.
        self.running: dict[int, tuple[float, dict]] = {}
        #: Waiting jobs told they wait for resources: job id -> the t_estimate they were told.
        self.told: dict[int, float | None] = {}
        self._pass_scheduled = False

    def request(self, job):
        if not self.pool.feasible(job.request):
            why = self.pool.why_unsatisfiable(job.request)
            self.loop.call_soon(self.respond.denied, job, f"unsatisfiable request: {why}")
            return
        self.pending.push(job)
        self._schedule_soon()

    def cancel(self, job) -> bool:
        """Drop a pending request; False if there was none (already allocated)."""
        if not self.pending.remove(job):
            return False
        if self.told.pop(job.id, False) is not False:
            self._schedule_soon()
        return True

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
        self.running.pop(job.id, None)
        if placement:
            self.pool.release(placement)
            self._schedule_soon()

    def release(self, job, ranks):
        """Return the resources of some ranks before the job's ``free``."""
        placement = self.placements.get(job.id)
        if placement:
            self.pool.release(placement, ranks)
            running = self.running.get(job.id)
            if running is not None:
                for rank in ranks:
                    running[1].pop(rank, None)
            self._schedule_soon()

    def reserve(self, job, released=()):
        """A job that holds resources at restart keeps them (but for the ``released`` ranks
        it had already given back)."""
        ranks = {rank: ids for rank, ids in job.ranks.items() if rank not in released}
        self.placements[job.id] = self.pool.reserve(ranks)
        execution = (job.R or {}).get("execution") or {}
        end = execution.get("expiration") or 0.0
        if not end:
            end = (execution.get("starttime") or 0.0) + self.policies.duration(job.queue)
        counts = {rank: (len(cores), len(gpus)) for rank, (cores, gpus) in ranks.items()}
        self.running[job.id] = (end, counts)

    def resources_changed(self):
        self._schedule_soon()

    def _schedule_soon(self):
        if not self._pass_scheduled:
            self._pass_scheduled = True
            self.loop.call_soon(self._schedule)

    # --- the pass -----------------------------------------------------------------------

    def _schedule(self):
        self._pass_scheduled = False
        if not self.pending:
            return
        now = time.time()
        policies = self.policies
        running = self.running.values() if policies.plans_ahead else ()
        profile = Profile(now, self.pool.capacity(), running)
        reservations_by_queue: dict = {}
        stopped_queues = set()
        waiting_for_resources: dict[int, float | None] = {}
        names = None
        considered = started = 0
        # Closed at once, so that the jobs the walk took off the heap are back before
        # anything else looks at the queue.
        with contextlib.closing(self.pending.in_order(policies.depth)) as jobs:
            for job in jobs:
                considered += 1
                queue = job.queue
                if queue in stopped_queues:
                    continue
                request = job.request
                policy = policies.policy(queue)
                reservations = reservations_by_queue.get(queue, 0)
                too_big = request.nslots * request.cores_per_slot > profile.total_cores
                if too_big and not policy.blocks_queue and not policy.reserves(reservations):
                    continue  # the common case of a long backfill pass: cannot start now
                duration = request.duration or policies.duration(queue)
                counts = None if too_big else profile.place_now(request, duration)
                if counts is not None:
                    profile.start_now(counts, now + duration)
                    if names is None:
                        names = self.pool.node_names()
                    self._allocate(job, counts, now, duration, names)
                    started += 1
                    continue
                if policy.reserves(reservations):
                    found = profile.earliest(request, duration)
                    estimate = None
                    if found is not None:
                        estimate, reserved = found
                        profile.reserve(estimate, estimate + duration, reserved)
                    waiting_for_resources[job.id] = estimate
                    reservations_by_queue[queue] = reservations + 1
                elif policy.blocks_queue:
                    waiting_for_resources[job.id] = None
                if policy.blocks_queue:
                    stopped_queues.add(queue)
                if self._nothing_left_to_do(profile, stopped_queues, reservations_by_queue):
                    break
            else:
                if started and considered == policies.depth:
                    # The pass stopped at the queue depth having started jobs: the jobs
                    # behind them get their turn in the next pass.
                    self._schedule_soon()
        self._tell(waiting_for_resources)

    def _nothing_left_to_do(self, profile, stopped_queues, reservations_by_queue) -> bool:
        """No later job can start now, nor get a reservation, in any queue?"""
        queues = self.policies.queue_names
        if queues is None:
            queues = (None,)
        for queue in queues:
            if queue in stopped_queues:
                continue
            if profile.total_cores > 0:
                return False
            if self.policies.policy(queue).reserves(reservations_by_queue.get(queue, 0)):
                return False
        return True

    def _allocate(self, job, counts, now, duration, names):
        self.pending.remove(job)
        placement = self.pool.take(counts)
        self.placements[job.id] = placement
        self.running[job.id] = (now + duration, dict(counts))
        limit = job.request.duration
        ranks = self.pool.ids(placement)
        R = resource_set.build(ranks, names, now, now + limit if limit else 0.0)
        annotations = {"sched": {"resource_summary": resource_set.summary(R)}}
        if self.told.pop(job.id, False) is not False:
            annotations["sched"].update(t_estimate=None, reason_pending=None)
        try:
            self.respond.allocated(job, R, annotations, ranks)
        except Exception:
            log.exception("job %d: error handling its allocation", job.id)

    def _tell(self, waiting_for_resources: dict):
        """Annotate the waiting jobs whose reservation or reason changed in this pass."""
        told = self.told
        changed = [job_id for job_id, estimate in waiting_for_resources.items()
                   if told.get(job_id, False) != estimate]
        dropped = [job_id for job_id in told if job_id not in waiting_for_resources]
        if not changed and not dropped:
            return
        job = self.pending.job
        for job_id in changed:
            estimate = waiting_for_resources[job_id]
            told[job_id] = estimate
            self.respond.annotate(job(job_id), {"sched": {
                "t_estimate": estimate, "reason_pending": REASON_RESOURCES}})
        for job_id in dropped:
            del told[job_id]
            self.respond.annotate(job(job_id), {"sched": {
                "t_estimate": None, "reason_pending": None}})
