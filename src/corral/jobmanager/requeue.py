"""Requeue: end a job's current run and send it back to PRIORITY for another (Slurm's requeue).

RFC 21 has no requeue; corral's extension is the ``requeue`` event (see `event`): a job whose
``requeue_request`` is set when its CLEANUP is done gets ``requeue`` instead of ``clean``. This
module is the one way to set that request: `request` (for the job manager's own parts, the
PrEp bridge first of all) and the ``job-manager.requeue`` service behind ``corral job requeue``
(instance owner only, as ``scontrol requeue`` is an operator's command). A request for a job
still in RUN also ends the run with a fatal exception; a job already in CLEANUP just finishes
its cleanup first. The request travels in the ``requeue`` event's context, so a restarted
controller knows it: ``reason``, ``hold`` (urgency 0 until released), ``delay`` (seconds
before the job may be allocated again, Slurm's requeue_delay) and ``launch_failures`` (the
count ``[prep] max-batch-requeue`` is checked against). This module must not decide why a job
is requeued.
"""

import errno

from ..broker.message import RequestError
from ..prep import config as prep_config
from ..states import State

#: The exception that ends the current run of a job requeued on request.
REQUEUE_EXCEPTION = "requeue"


def request(manager, job, reason: str, *, hold: bool = False, delay: float = 0.0,
            launch_failures: int | None = None, exception: tuple[str, str] | None = None,
            userid: int | None = None):
    """Requeue ``job`` when its cleanup is done.

    ``exception`` is ``(type, note)`` of the fatal exception that ends the run of a job still
    in RUN (ignored for a job already in CLEANUP), raised as ``userid`` (default: the
    instance owner).
    """
    context = {"reason": reason, "hold": bool(hold)}
    if delay > 0:
        context["delay"] = delay
    if launch_failures is not None:
        context["launch_failures"] = launch_failures
    job.requeue_request = context
    if job.state == State.RUN and exception is not None:
        type_, note = exception
        manager.raise_exception(job, type_, 0, note,
                                manager.owner_uid if userid is None else userid)


class Requeue:
    """The ``job-manager.requeue`` service: ``{"id": ID, "hold": bool}``."""

    def __init__(self, manager):
        self.manager = manager
        self.delay = prep_config.requeue_delay(manager.config)

    def serve(self, msg):
        payload = msg.payload_object()
        manager = self.manager
        job = manager.active_job_for(msg, payload.get("id"))
        hold = payload.get("hold", False)
        if type(hold) is not bool:
            raise RequestError(errno.EPROTO, "hold must be a boolean")
        if job.state & State.PENDING or job.state == State.NEW:
            raise RequestError(errno.EINVAL, f"job {job.id} is pending: it has no run to "
                                             "requeue")
        if job.request is not None and not job.request.requeue:
            raise RequestError(errno.EINVAL, f"job {job.id} cannot be requeued: it was "
                                             "submitted with requeue = false")
        if job.requeue_request is not None:
            raise RequestError(errno.EEXIST, f"job {job.id} is already being requeued")
        reason = "requeued held by request" if hold else "requeued by request"
        request(manager, job, reason, hold=hold, delay=self.delay,
                exception=(REQUEUE_EXCEPTION, reason), userid=msg.userid)
        msg.respond({})
