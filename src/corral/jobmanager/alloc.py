"""The job manager's side of scheduling: send, cancel and answer allocation requests.

Jobs in SCHED with a non-zero priority are sent to the scheduler (held jobs, priority 0,
never are); leaving SCHED cancels the request; ``free`` and ``release`` return resources.
The scheduler gets an `AllocRequest` (not the job), and its answers arrive here by job id
(this class is its `AllocAnswers`) and become ``alloc`` events or ``alloc`` exceptions.  A
job of a queue that is not configured (one a restart dropped) is denied here, never sent: the
scheduler would place it on any node.
"""

import logging

from .. import resource_set
from ..jsoncodec import dumps
from ..sched import AllocRequest
from ..states import JOB_FLAGS, State
from .queue import gone_text

log = logging.getLogger("corral.job-manager")


class Alloc:
    def __init__(self, manager, make_scheduler):
        """``make_scheduler(answers)``: the scheduler, built to answer this object."""
        self.manager = manager
        self.scheduler = make_scheduler(self)

    def enqueue(self, job):
        if job.alloc_pending or job.has_resources or job.priority <= 0 or job.alloc_bypass:
            return
        queues = self.manager.queues
        if not queues.started(job.queue):
            return
        gone = queues.unconfigured(job.request)
        if gone:
            # A job that ran when a restart dropped its queue, requeued since: denied, as
            # fluxion denies a job of a queue it does not have.
            self._deny(job, gone_text(gone))
            return
        job.alloc_pending = True
        self.scheduler.request(alloc_request(job))
        if job.flags & JOB_FLAGS["debug"]:
            self.manager.events.post(job, "debug.alloc-request")

    def cancel(self, job):
        if self.scheduler.cancel(job.id):
            job.alloc_pending = False

    def request_changed(self, job):
        """A pending job's jobspec changed (queue, resources, duration): the scheduler gets
        the request anew, read from the new jobspec."""
        if job.alloc_pending:
            self.cancel(job)
            self.enqueue(job)

    def prioritize(self, jobs):
        self.scheduler.prioritize([(job.id, job.priority) for job in jobs])

    def free(self, job):
        """The scheduler gets the job's resources back at once, before its ``free`` is
        stored: the store commits in order, so another job's ``alloc`` of them is stored
        only with or after it, and that job's tasks start only once its ``alloc`` is
        (`Start`).  A controller killed in between finds them held by one job, and saves a
        commit's round trip between a job's end and the next start."""
        self.scheduler.free(job.id)

    def release(self, job, ranks):
        """Ranks given back before the job's end (a ``release`` that is not final), at
        once, as in `free`."""
        self.scheduler.release(job.id, ranks)

    def reserve(self, job, released):
        """At restart: ``job`` keeps the resources its R gives it, but the ``released``
        ranks."""
        self.scheduler.reserve(alloc_request(job), job.ranks, job.R, released)

    def set_R(self, job, R):
        """R given by a plugin in ``job.state.sched`` (alloc-bypass)."""
        self._record_R(job, R)

    def _record_R(self, job, R, ranks=None):
        job.R = R
        job.ranks = ranks if ranks is not None else resource_set.ranks_of(R)
        job.nodelist = resource_set.nodelist(R)
        job.nnodes = len(job.ranks)
        self.manager.store.set_R(job.id, dumps(R))

    # --- answers from the scheduler -------------------------------------------------------

    def allocated(self, job_id, R, annotations, ranks):
        job = self.manager.active.get(job_id)
        if job is None or job.state != State.SCHED:
            # The job left SCHED while the answer was on its way: give the resources back.
            if job is not None:
                job.alloc_pending = False
            self.scheduler.free(job_id)
            return
        job.alloc_pending = False
        self._record_R(job, R, ranks)
        self.manager.annotate(job, annotations, publish=False)
        self.manager.events.post(job, "alloc", {"annotations": annotations})

    def annotate(self, job_id, annotations):
        """What the scheduler tells a waiting job (its reservation, why it waits)."""
        job = self.manager.active.get(job_id)
        if job is not None and job.state == State.SCHED:
            self.manager.annotate(job, annotations)

    def denied(self, job_id, note):
        job = self.manager.active.get(job_id)
        if job is None:
            return
        job.alloc_pending = False
        if job.state == State.SCHED:
            self._deny(job, note)

    def _deny(self, job, note):
        self.manager.raise_exception(job, "alloc", 0, f"alloc denied: {note}",
                                     self.manager.owner_uid)


def alloc_request(job) -> AllocRequest:
    """What the scheduler is told of ``job``."""
    return AllocRequest(job.id, job.userid, job.queue, job.priority, job.request)
