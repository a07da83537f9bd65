"""The job manager's side of scheduling: send, cancel and answer allocation requests.

Jobs in SCHED with a non-zero priority are sent to the scheduler (held jobs, priority 0,
never are); leaving SCHED cancels the request; ``free`` and ``release`` return resources.
The scheduler's answers arrive here and become ``alloc`` events or ``alloc`` exceptions.
"""

import logging

from .. import resource_set
from ..jsoncodec import dumps
from ..states import State
from .event import JOB_FLAGS

log = logging.getLogger("corral.job-manager")


class Alloc:
    def __init__(self, manager, make_scheduler):
        """``make_scheduler(answers)``: the scheduler, built to answer this object."""
        self.manager = manager
        self.scheduler = make_scheduler(self)

    def enqueue(self, job):
        if job.alloc_pending or job.has_resources or job.priority <= 0 or job.alloc_bypass:
            return
        if not self.manager.queues.started(job.queue):
            return
        job.alloc_pending = True
        self.scheduler.request(job)
        if job.flags & JOB_FLAGS["debug"]:
            self.manager.events.post(job, "debug.alloc-request")

    def cancel(self, job):
        if self.scheduler.cancel(job):
            job.alloc_pending = False

    def request_changed(self, job):
        """A pending job's jobspec changed (queue, resources, duration): the scheduler gets
        the request anew, read from the new jobspec."""
        if job.alloc_pending:
            self.cancel(job)
            self.enqueue(job)

    def prioritize(self, jobs):
        self.scheduler.prioritize(jobs)

    def free(self, job):
        # The scheduler gets resources back only once the event that gives them up is
        # stored: a controller killed in between must not find them held by two jobs.
        self.manager.store.after_commit(lambda: self.scheduler.free(job))

    def release(self, job, ranks):
        self.manager.store.after_commit(lambda: self.scheduler.release(job, ranks))

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

    def allocated(self, job, R, annotations, ranks):
        job.alloc_pending = False
        if job.state != State.SCHED:
            # The job left SCHED while the answer was on its way: give the resources back.
            self.scheduler.free(job)
            return
        self._record_R(job, R, ranks)
        self.manager.annotate(job, annotations, publish=False)
        self.manager.events.post(job, "alloc", {"annotations": annotations})

    def annotate(self, job, annotations):
        """What the scheduler tells a waiting job (its reservation, why it waits)."""
        if job.state == State.SCHED:
            self.manager.annotate(job, annotations)

    def denied(self, job, note):
        job.alloc_pending = False
        if job.state == State.SCHED:
            self.manager.raise_exception(job, "alloc", 0, f"alloc denied: {note}",
                                         self.manager.owner_uid)
