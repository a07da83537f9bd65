"""The job manager's side of execution: start requests and what exec answers.

A start request leaves only once the ``alloc`` that justifies it is committed, so a job
whose controller dies cannot have run without its allocation on disk.  Exec's answers become
``start``, ``finish``, ``release`` events and ``exec``/``timeout`` exceptions.  Each ``release``
gives its ranks back to the scheduler at once: exec releases a node only when nothing of the
job is left there (its tasks and, with PrEp node epilogs, its epilog), so the final release is
the last.
"""

import logging

from .. import idset
from ..exec import StartRequest
from ..limits import shorten
from ..states import State
from . import requeue

log = logging.getLogger("corral.job-manager")

#: The reason of the requeue of a job whose node failed (Slurm's NODE_FAIL with JobRequeue).
NODE_FAIL_REQUEUED = "node failure requeued"


class Start:
    def __init__(self, manager, make_exec):
        """``make_exec(answers)``: the exec service, built to answer this object."""
        self.manager = manager
        self.max_requeue = manager.config.get_int("agents.max-requeue", 5)
        self.exec = make_exec(self)

    def send(self, job):
        if job.start_pending or job.started:
            return
        job.start_pending = True
        self.exec.start_coming(job.id)
        self.manager.store.after_commit(lambda: self._send(job))

    def _send(self, job):
        if job.state != State.RUN or job.readonly:
            # An exception ended the job before its tasks could start.
            self.exec.start_skipped(job.id, job.ranks)
            return
        try:
            self.exec.start(start_request(job))
        except Exception as exc:
            # The job's own data could not be started (exec sent nothing): it alone fails.
            log.exception("job %d: start failed", job.id)
            self.exception(job.id, "exec", shorten(f"start failed: {exc}"))
            self.exec.start_skipped(job.id, job.ranks)

    def reattach(self, job) -> bool:
        """``job`` was running when the last controller stopped: exec takes its tasks back
        (False when they did not outlive that controller)."""
        if not self.exec.reattach(start_request(job)):
            return False
        job.start_pending = True
        return True

    def cancel(self, job):
        self.exec.cancel(job.id)

    def kill(self, job, signum):
        self.exec.kill(job.id, signum)

    def update_expiration(self, job):
        self.exec.update_expiration(job.id, _expiration(job.R))

    # --- answers from exec (`corral.exec.ExecAnswers`) ------------------------------------

    def _job(self, job_id: int):
        """The active job exec answers about (None, logged, for one that is not)."""
        job = self.manager.active.get(job_id)
        if job is None:
            log.error("job %d: exec answered about a job that is not active", job_id)
        return job

    def started(self, job_id):
        job = self._job(job_id)
        if job is not None:
            self.manager.events.post(job, "start")

    def finished(self, job_id, status):
        job = self._job(job_id)
        if job is None:
            return
        self.manager.events.post(job, "finish", {"status": status})
        if job.id in self.manager.steps.jobs:
            self.manager.steps.job_finished(job)

    def step_finished(self, job_id, step, status, note):
        job = self._job(job_id)
        if job is not None:
            self.manager.steps.finished(job, step, status, note)

    def released(self, job_id, ranks, final):
        job = self._job(job_id)
        if job is None:
            return
        if ranks:
            self.manager.alloc.release(job, ranks)
        if final:
            job.start_pending = False
        self.manager.events.post(job, "release", {"ranks": idset.encode(ranks), "final": final})

    def node_failed(self, job_id, note: str):
        """End the job, whose node failed, with a fatal ``node-fail`` exception; requeue it
        unless it was submitted with ``requeue = false`` or has been run ``[agents]
        max-requeue`` times again already (Slurm's NODE_FAIL with ``JobRequeue``).  A job
        already ending (cancelled, timed out) just ends."""
        job = self._job(job_id)
        if job is None or job.state != State.RUN:
            return
        if job.request is not None and job.request.requeue and \
                job.restart_count < self.max_requeue:
            requeue.request(self.manager, job, NODE_FAIL_REQUEUED,
                            exception=("node-fail", note))
        else:
            self.exception(job_id, "node-fail", note)

    def exception(self, job_id, type_, note):
        job = self._job(job_id)
        if job is not None:
            manager = self.manager
            manager.raise_exception(job, type_, 0, note, manager.owner_uid)


def start_request(job) -> StartRequest:
    """What exec is told of ``job`` to start its tasks (or take them back)."""
    spec = job.jobspec
    return StartRequest(
        job.id, job.userid, job.name, job.request, spec["tasks"][0]["count"],
        spec.get("attributes", {}).get("system", {}), job.environment, job.nodelist,
        job.ranks, job.ntasks, job.restart_count, _expiration(job.R), job.started)


def _expiration(R) -> float:
    return R["execution"].get("expiration") or 0.0
