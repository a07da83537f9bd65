"""The scheduler: pending allocation requests, the resource pool, and one pass to match them.

The job manager sends a request (`AllocRequest`: id, user, priority, queue and the jobspec's
resource request) when a job reaches SCHED with a non-zero priority, cancels it by job id when
the job leaves SCHED, and frees resources by job id when a job releases them.  The scheduler
answers through ``respond`` (`AllocAnswers`), by job id: ``allocated``, ``denied``, and
``annotate`` for what a waiting job is told (its reservation, ``sched.t_estimate``, and why it
waits, ``sched.reason_pending``).

A pass walks the pending jobs in priority order (the first ``[sched] queue-depth`` of them)
and asks each queue's policy (`fcfs`, `easy`, `conservative`) what a job that does not fit
gets; a job starts only where the pass's `Profile` says it delays no reservation.  Once
every queue is done reserving (EASY after its first reservation), the rest of the walk
looks only at the jobs that fit in the cores free now: the others could only be passed
over, and a deep backfill walk of a full machine is mostly those.  The queue finds them by
size, and past the first reservation by duration (`PendingQueue.fitting`), so the rest of the
window is not read.  A job whose
queue owns some of the nodes, or whose constraints match some, is placed on those only: its
mask of ranks (see `constraints`) is worked out once, when it is queued; other jobs pay
nothing for it.  A queue may cap the jobs each user runs in it at once; the others wait, told
why.  A pass runs once per loop iteration after anything that could change the answer (a new
request, freed resources, a priority change, an undrained node), so a burst of events costs
one pass, and nothing runs while nothing changes.

Nor does one run for a request that sorts behind every job a pass looked at, when that pass
started nothing and stopped before the end of its window or at the queue depth, and nothing
else changed since (no job freed, cancelled or reordered, no node drained): the same pass
again would find the same jobs unable to start, the same reservations, and would not reach
the new job.  Only while no running job is past its expected end: until then the profile of
a later pass is the same, and after that such a job counts as ending at every new now.  A
deep queue on a full machine is the common case: every arrival then costs no pass.
"""

import itertools
import logging
import math
import time

from .. import resource_set
from ..jobspec.requires import describe
from ..timings import Timings
from .constraints import ConstraintError, RankMasks, nodes_described
from .policies import QueuePolicies
from .profile import Profile, RunningEnds
from .queue import PendingQueue
from .requests import AllocAnswers, AllocRequest

log = logging.getLogger("corral.sched")

#: What a waiting job that a reservation or its queue's head holds back is told (Slurm's).
REASON_RESOURCES = "Resources"
#: What a job held back by its queue's ``max-jobs-per-user`` is told.
REASON_USER_LIMIT = "MaxJobsPerUser"
#: Jobs a pass reads from the queue before it reads the rest of its window.
_FIRST_READ = 16


def _backfillable(jobs: list, sizes: list, profile, policies) -> tuple[list, list]:
    """The jobs (and their sizes) that might start now once only backfill is left, in order:
    those that fit in the cores free now and, if they would run past the first
    reservation's start, in the cores that stay free until then.  Both are necessary
    conditions of `Profile.place_now`, so the jobs dropped are the ones it would refuse,
    each at the cost of a placement tried.  One comprehension over the window (a backfill
    pass narrows hundreds of jobs): a job's duration is read only when its size leaves the
    question open."""
    cores = profile.total_cores
    shadow = profile.cores_past_first_reservation()
    if shadow >= cores:
        keep = [size <= cores for size in sizes]
    else:
        now, first = profile.now, profile.first_reservation
        duration = policies.duration
        keep = [size <= shadow or size <= cores and
                now + (job.request.duration or duration(job.queue)) <= first
                for job, size in zip(jobs, sizes, strict=True)]
    return list(itertools.compress(jobs, keep)), list(itertools.compress(sizes, keep))


def _cores(job) -> int:
    """The cores a job asks for: what a pass first compares with what is free."""
    return job.request.nslots * job.request.cores_per_slot


class Scheduler:
    def __init__(self, loop, pool, respond: AllocAnswers,
                 policies: QueuePolicies | None = None):
        self.loop = loop
        self.pool = pool
        self.respond = respond
        self.policies = policies or QueuePolicies()
        self.pending = PendingQueue(_cores, self._duration, self.policies.depth)
        #: ``(queue, policy)`` of every queue (None: the one anonymous queue), in order.
        names = self.policies.queue_names
        self._queue_policies = [(queue, self.policies.policy(queue))
                                for queue in ((None,) if names is None else names)]
        self.rank_masks = RankMasks(pool.nodes)
        self.queue_masks = {name: self.rank_masks.of(constraint)
                            for name, constraint in self.policies.nodes.items()}
        #: Pending jobs that may use only some nodes: job id -> mask of ranks.
        self.job_masks: dict[int, int] = {}
        #: With per-user limits: running jobs' ``(queue, user)``, and how many each has.
        self.limited: dict[int, tuple] = {}
        self.running_by_user: dict[tuple, int] = {}
        self.placements: dict[int, dict] = {}
        #: Per running job: ``(expected end, {rank: (cores, gpus)})``; and by end, what a
        #: pass's profile starts from.
        self.running: dict[int, tuple[float, dict]] = {}
        self.ends = RunningEnds()
        #: Waiting jobs told why they wait: job id -> ``(t_estimate, reason)`` they were told.
        self.told: dict[int, tuple] = {}
        self._pass_scheduled = False
        #: After a pass whose answer stands for requests queued behind what it looked at:
        #: (the last sort key it looked at, the earliest running job's expected end, the
        #: pool's drains then); None when the next request needs a pass.
        self._settled: tuple | None = None
        #: The nodes' names, in a pass that has started a job (None: not read yet).
        self._names: list | None = None
        self.pass_timings = Timings()  # how long each pass held the loop (metrics)

    def _duration(self, job) -> float:
        """How long a pending job is expected to run: its time limit, else its queue's."""
        return job.request.duration or self.policies.duration(job.queue)

    def request(self, job: AllocRequest):
        try:
            mask = self._mask(job.request)
        except ConstraintError as exc:
            self.loop.call_soon(self.respond.denied, job.id, str(exc))
            return
        if not self.pool.feasible(job.request, mask):
            why = self._why_unsatisfiable(job.request, mask)
            self.loop.call_soon(self.respond.denied, job.id, f"unsatisfiable request: {why}")
            return
        if mask is not None:
            self.job_masks[job.id] = mask
        key = self.pending.push(job)
        settled = self._settled
        if settled is None or key <= settled[0] or time.time() >= settled[1] or \
                self.pool.drains != settled[2]:
            self._schedule_soon()

    def queue_ranks(self, queue) -> list[int] | None:
        """The ranks of the nodes ``queue`` owns, or None when it owns every node."""
        mask = self.queue_masks.get(queue)
        if mask is None:
            return None
        return [rank for rank in range(self.rank_masks.count) if mask >> rank & 1]

    def unsatisfiable(self, request) -> str | None:
        """Why ``request`` could never be satisfied on the nodes its queues and constraints
        allow, in one sentence, or None when it could."""
        try:
            mask = self._mask(request)
        except ConstraintError as exc:
            return str(exc)
        if self.pool.feasible(request, mask):
            return None
        return self._why_unsatisfiable(request, mask)

    def constraint_refusal(self, request) -> str | None:
        """Why no node could ever run ``request`` by its constraints (they match none of the
        nodes, or none of its queues' nodes, or they are not RFC 31), in one sentence saying
        what was asked and what exists; None when some node matches or it has none.  For
        submit: such a job is refused before it exists."""
        if not request.constraints:
            return None
        try:
            mask = self._mask(request)
        except ConstraintError as exc:
            return str(exc)
        if mask != 0:
            return None
        asked = f"constraint '{describe(request.constraints)}'"
        nodes = self.pool.nodes
        matched = self.rank_masks.of(request.constraints)
        if not matched:
            return (f"{asked} matches no node; the nodes are "
                    f"{nodes_described(nodes, self.rank_masks.every)}")
        queues = request.queues or (request.queue,)
        owned = 0
        for queue in queues:
            owned |= self.queue_masks.get(queue, 0)
        return (f"{asked} matches none of the nodes of queue {','.join(queues)}, "
                f"{nodes_described(nodes, owned)}; it matches {nodes_described(nodes, matched)}")

    def _why_unsatisfiable(self, request, mask) -> str:
        if mask is not None and self.pool.feasible(request):
            allowed = mask.bit_count()
            if not allowed:
                return "no node is allowed by its queue and constraints"
            return (f"the {allowed} node{'s' if allowed > 1 else ''} its queue and constraints "
                    f"allow cannot hold it")
        return self.pool.why_unsatisfiable(request)

    def _mask(self, request) -> int | None:
        """The ranks a request may use (its queues' nodes, its constraints), or None: all."""
        queue_masks = self.queue_masks
        mask = None
        if queue_masks:
            if request.queues:
                mask = 0
                for queue in request.queues:
                    mask |= queue_masks.get(queue, self.rank_masks.every)
            else:
                mask = queue_masks.get(request.queue)
        if request.constraints:
            matched = self.rank_masks.of(request.constraints)
            mask = matched if mask is None else mask & matched
        return None if mask == self.rank_masks.every else mask

    def cancel(self, job_id: int) -> bool:
        """Drop a pending request; False if there was none (already allocated)."""
        if not self.pending.remove(job_id):
            return False
        self._settled = None  # the window moves on by one job
        self.job_masks.pop(job_id, None)
        if self.told.pop(job_id, False) is not False:
            self._schedule_soon()
        return True

    def prioritize(self, priorities: list[tuple[int, int]]):
        """New priorities for pending requests, ``[(job id, priority)]``: one request is
        re-placed, many are re-sorted."""
        if not priorities:
            return
        pending = self.pending
        if len(priorities) == 1:
            pending.reorder(*priorities[0])
        else:
            for job_id, priority in priorities:
                pending.set_priority(job_id, priority)
            pending.resort()
        self._schedule_soon()

    def free(self, job_id: int):
        """Return everything the job still holds."""
        placement = self.placements.pop(job_id, None)
        running = self.running.pop(job_id, None)
        if running is not None:
            self.ends.remove(*running)
        if self.limited:
            self._uncount(job_id)
        if placement:
            self.pool.release(placement)
            self._schedule_soon()

    def release(self, job_id: int, ranks):
        """Return the resources of some ranks before the job's ``free``."""
        placement = self.placements.get(job_id)
        if placement:
            self.pool.release(placement, ranks)
            running = self.running.get(job_id)
            if running is not None:
                end, counts = running
                released = {rank: counts.pop(rank) for rank in ranks if rank in counts}
                self.ends.release(end, released)
            self._schedule_soon()

    def reserve(self, job: AllocRequest, ranks: dict, R: dict | None, released=()):
        """A job that holds ``ranks`` (``{rank: (core ids, gpu ids)}``, from its ``R``) at
        restart keeps them, but for the ``released`` ranks it had already given back."""
        ranks = {rank: ids for rank, ids in ranks.items() if rank not in released}
        self._settled = None
        self.placements[job.id] = self.pool.reserve(ranks)
        execution = (R or {}).get("execution") or {}
        end = execution.get("expiration") or 0.0
        if not end:
            end = (execution.get("starttime") or 0.0) + self.policies.duration(job.queue)
        counts = {rank: (len(cores), len(gpus)) for rank, (cores, gpus) in ranks.items()}
        self.running[job.id] = (end, counts)
        self.ends.add(end, counts)
        if self.policies.user_limits:
            self._count(job)

    def _count(self, job):
        key = (job.queue, job.userid)
        self.limited[job.id] = key
        self.running_by_user[key] = self.running_by_user.get(key, 0) + 1

    def _uncount(self, job_id):
        key = self.limited.pop(job_id, None)
        if key is not None:
            self.running_by_user[key] -= 1

    def resources_changed(self):
        self._schedule_soon()

    def _schedule_soon(self):
        self._settled = None
        if not self._pass_scheduled:
            self._pass_scheduled = True
            self.loop.call_soon(self._schedule)

    # --- the pass -----------------------------------------------------------------------

    def _schedule(self):
        self._pass_scheduled = False
        if not self.pending:
            return
        began = time.perf_counter()
        now = time.time()
        policies = self.policies
        profile = Profile(now, self.pool.capacity(),
                          self.ends if policies.plans_ahead else None)
        reservations_by_queue: dict = {}
        stopped_queues = set()
        waiting: dict[int, tuple] = {}
        self._names = None
        job_masks = self.job_masks
        user_limits = policies.user_limits
        running_by_user = self.running_by_user
        allocated = 0
        queued = len(self.pending)
        wanted = queued if policies.depth is None else min(policies.depth, queued)
        full_window = wanted == policies.depth
        # A pass that stops at the head (a full machine, FCFS) reads only a few jobs; the
        # rest of the window is read when the walk gets there.
        read = min(wanted, _FIRST_READ)
        window, sizes = self.pending.first(read)
        first_read = window
        window_end = window[-1]  # the last job of the window read so far
        index = 0
        stopped = False
        while True:
            if index == len(window):
                if read == wanted:
                    break
                read, index = wanted, 0
                # The queue's front now: the jobs read so far that did not start, then the
                # rest of the window.
                seen = {job.id for job in first_read}
                window, sizes = self.pending.first(wanted - allocated)
                window_end = window[-1]
                while index < len(window) and window[index].id in seen:
                    index += 1
                window, sizes = window[index:], sizes[index:]
                index = 0
                continue
            job, size = window[index], sizes[index]
            index += 1
            queue = job.queue
            if queue in stopped_queues:
                continue
            if user_limits and queue in user_limits and running_by_user.get(
                    (queue, job.userid), 0) >= user_limits[queue]:
                waiting[job.id] = (None, REASON_USER_LIMIT)
                continue  # Slurm's way: a job over its limit holds back nobody
            request = job.request
            policy = policies.policy(queue)
            reservations = reservations_by_queue.get(queue, 0)
            too_big = size > profile.total_cores
            if too_big and not policy.blocks_queue and not policy.reserves(reservations):
                continue  # the common case of a long backfill pass: cannot start now
            mask = job_masks.get(job.id) if job_masks else None
            duration = request.duration or policies.duration(queue)
            counts = None if too_big else profile.place_now(request, duration, mask)
            if counts is not None:
                self._start(profile, job, counts, now, duration)
                allocated += 1
                continue
            if policy.reserves(reservations):
                found = profile.earliest(request, duration, mask)
                estimate = None
                if found is not None:
                    estimate, reserved = found
                    profile.reserve(estimate, estimate + duration, reserved)
                waiting[job.id] = (estimate, REASON_RESOURCES)
                reservations_by_queue[queue] = reservations + 1
            elif policy.blocks_queue:
                waiting[job.id] = (None, REASON_RESOURCES)
            if policy.blocks_queue:
                stopped_queues.add(queue)
            if self._nothing_left_to_do(profile, stopped_queues, reservations_by_queue):
                stopped = True
                break
            if not user_limits and self._only_backfill_left(stopped_queues,
                                                            reservations_by_queue):
                # Every job left either starts now or is passed over, and free cores only
                # shrink from here: only those that fit in them now need a look.
                if read < wanted:
                    # The rest of the window, read at once: only its jobs that might start
                    # now (see `_backfillable`), found by size and duration.
                    window_end = self.pending.last_of(wanted - allocated)
                    window, sizes = self.pending.fitting(
                        self.pending.key(job.id), self.pending.key(window_end.id),
                        profile.total_cores, profile.cores_past_first_reservation(), now,
                        profile.first_reservation)
                else:
                    window, sizes = _backfillable(window[index:], sizes[index:], profile,
                                                  policies)
                started, stopped_at = self._backfill(window, sizes, profile, stopped_queues,
                                                     now)
                allocated += started
                if stopped_at is not None:
                    job, stopped = stopped_at, True
                break
        if not stopped and allocated and full_window:
            # The pass stopped at the queue depth having started jobs: the jobs behind
            # them get their turn in the next pass.
            self._schedule_soon()
        elif not allocated and (stopped or full_window) and not self._pass_scheduled:
            last = job if stopped else window_end
            ends = self.ends.times  # the running jobs' ends but the infinite ones
            self._settled = (self.pending.key(last.id), ends[0] if ends else math.inf,
                             self.pool.drains)
        self._tell(waiting)
        self.pass_timings.observe(time.perf_counter() - began)

    def _backfill(self, window: list, sizes: list, profile, stopped_queues,
                  now: float) -> tuple[int, object]:
        """Only backfill is left (every queue not stopped is done reserving and blocks
        nobody): start, in order, the jobs of ``window`` (with their ``sizes``) that fit
        now, passing over the others.  A job that does not fit then reserves nothing and
        stops no queue, so the walk stops only once no core is free, and the jobs left are
        narrowed again each time fewer cores are free at such a job.  Returns how many
        jobs started and the job the walk stopped at (None: it read the whole window)."""
        duration_of = self.policies.duration
        job_masks = self.job_masks
        narrowed_to = profile.total_cores
        started = 0
        index = 0
        while index < len(window):
            job, size = window[index], sizes[index]
            index += 1
            if size > profile.total_cores or job.queue in stopped_queues:
                continue
            request = job.request
            duration = request.duration or duration_of(job.queue)
            counts = profile.place_now(request, duration,
                                       job_masks.get(job.id) if job_masks else None)
            if counts is not None:
                self._start(profile, job, counts, now, duration)
                started += 1
                continue
            total = profile.total_cores
            if total <= 0:
                return started, job
            if total < narrowed_to:
                narrowed_to = total
                window, sizes = _backfillable(window[index:], sizes[index:], profile,
                                              self.policies)
                index = 0
        return started, None

    def _start(self, profile, job, counts: dict, now: float, duration: float):
        """Start ``job`` now on ``counts``, in the pass's profile and in the pool."""
        profile.start_now(counts, now + duration)
        if self._names is None:
            self._names = self.pool.node_names()  # once a pass, for the jobs it starts
        self._allocate(job, counts, now, duration, self._names)

    def _nothing_left_to_do(self, profile, stopped_queues, reservations_by_queue) -> bool:
        """No later job can start now, nor get a reservation, in any queue?"""
        free = profile.total_cores > 0
        for queue, policy in self._queue_policies:
            if queue not in stopped_queues and (
                    free or policy.reserves(reservations_by_queue.get(queue, 0))):
                return False
        return True

    def _only_backfill_left(self, stopped_queues, reservations_by_queue) -> bool:
        """Is every queue stopped, or done with its reservations and not blocking?"""
        for queue, policy in self._queue_policies:
            if queue not in stopped_queues and (
                    policy.blocks_queue or policy.reserves(reservations_by_queue.get(queue, 0))):
                return False
        return True

    def _allocate(self, job, counts, now, duration, names):
        self.pending.remove(job.id)
        self.job_masks.pop(job.id, None)
        if self.policies.user_limits:
            self._count(job)
        placement = self.pool.take(counts)
        self.placements[job.id] = placement
        self.running[job.id] = (now + duration, dict(counts))
        self.ends.add(now + duration, counts)
        limit = job.request.duration
        ranks = self.pool.ids(placement)
        R = resource_set.build(ranks, names, now, now + limit if limit else 0.0)
        annotations = {"sched": {"resource_summary": resource_set.summary(R)}}
        if self.told.pop(job.id, False) is not False:
            annotations["sched"].update(t_estimate=None, reason_pending=None)
        try:
            self.respond.allocated(job.id, R, annotations, ranks)
        except Exception:
            log.exception("job %d: error handling its allocation", job.id)

    def _tell(self, waiting: dict):
        """Annotate the waiting jobs whose reservation or reason changed in this pass."""
        told = self.told
        changed = [job_id for job_id, why in waiting.items() if told.get(job_id) != why]
        dropped = [job_id for job_id in told if job_id not in waiting]
        if not changed and not dropped:
            return
        annotate = self.respond.annotate
        for job_id in changed:
            estimate, reason = told[job_id] = waiting[job_id]
            annotate(job_id, {"sched": {"t_estimate": estimate, "reason_pending": reason}})
        for job_id in dropped:
            del told[job_id]
            annotate(job_id, {"sched": {
                "t_estimate": None, "reason_pending": None}})
