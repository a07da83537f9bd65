"""Job updates: the ``job-manager.update`` service and applying ``jobspec-update`` events.

An update request names a job and dotted jobspec keys under ``attributes``, ``resources`` or
``tasks`` (``{"attributes.system.duration": 3600}``).  As in flux-core's ``update.c``, every key
must be allowed by a ``job.update.<key>`` plugin callback, all keys or none are applied, the
updated jobspec goes through ``job.validate`` unless every plugin marked its key validated,
and a plugin may ask for a feasibility check or add updates of its own.  The result is one
``jobspec-update`` event (plus ``resource-update`` when a running job's duration changes).

corral checks feasibility itself (the jobspec must still be valid, the resources must exist,
a new queue must accept jobs), where flux-core asks the scheduler's ``feasibility.check``.
"""

import copy
import errno
import time

from .. import jobspec as jobspec_module
from ..broker.message import RequestError
from ..broker.roles import ROLE_OWNER
from ..limits import too_deep
from ..states import JOB_FLAGS, State
from .wait import require_job_id

#: The jobspec keys an update may name, and the only roots a dotted key may start from.
JOBSPEC_UPDATE_ROOTS = ("attributes", "resources", "tasks")


def _set_keys(spec: dict, updates: dict):
    for key, value in updates.items():
        path = key.split(".")
        node = spec
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = copy.deepcopy(value)


def valid_update_keys(updates) -> bool:
    """Each key is under an allowed root and each value nests no deeper than a jobspec may."""
    return isinstance(updates, dict) and bool(updates) and all(
        isinstance(key, str) and key.split(".", 1)[0] in JOBSPEC_UPDATE_ROOTS
        and not (isinstance(value, (dict, list)) and too_deep(value))
        for key, value in updates.items()
    )


def jobspec_with_updates(jobspec: dict, updates: dict):
    """``(spec, request)``: a copy of ``jobspec`` with ``updates`` applied, and what it asks
    for; raises ValueError (a `jobspec.JobspecError`) when the result is not a valid jobspec."""
    spec = copy.deepcopy(jobspec)
    _set_keys(spec, updates)
    return spec, jobspec_module.validate(spec)


def apply_jobspec_updates(job, updates: dict):
    """Apply a ``jobspec-update`` to the job manager's copy of the jobspec, in place (plugins
    holding it see the change), and recompute what the job asks for."""
    _spec, request = jobspec_with_updates(job.jobspec, updates)
    _set_keys(job.jobspec, updates)
    job.request = request
    job.name = request.name
    job.queue = request.queue
    job.ntasks = request.ntasks
    job.nnodes_requested = request.nnodes
    job.duration = request.duration


class Update:
    def __init__(self, manager):
        self.manager = manager

    def serve(self, msg):
        manager = self.manager
        request = msg.payload_object()
        job_id = require_job_id(request.get("id"))
        updates = request.get("updates")
        if not valid_update_keys(updates):
            raise RequestError(errno.EINVAL, "one or more jobspec updates are invalid")
        job = manager.active.get(job_id)
        if job is None or job.hold_events and job.state == State.NEW:
            if job_id in manager.inactive:
                raise RequestError(errno.EINVAL, "job is inactive")
            raise RequestError(errno.ENOENT, "unknown job id")
        owner = bool(msg.rolemask & ROLE_OWNER)
        if not owner and job.userid != msg.userid:
            raise RequestError(errno.EPERM, "guests may only update their own jobs")
        if job.flags & JOB_FLAGS["immutable"] and not owner:
            raise RequestError(errno.EPERM,
                               "job is immutable due to previous instance owner update")

        updates = dict(updates)
        cred = {"userid": msg.userid, "rolemask": msg.rolemask}
        validate = feasibility = False
        extra = {}
        for key, value in list(updates.items()):
            needs_validation, wants_feasibility, more = manager.jobtap.update_key(
                job, cred, key, value
            )
            validate = validate or needs_validation
            feasibility = feasibility or wants_feasibility
            extra.update(more)
        updates.update(extra)
        try:
            spec, updated = jobspec_with_updates(job.jobspec, updates)
        except ValueError as exc:
            raise RequestError(errno.EINVAL, str(exc)) from None
        if validate:
            error = manager.jobtap.validate_updated(job, spec)
            if error is not None:
                raise RequestError(errno.EINVAL, error)
        if feasibility:
            self._check_feasible(job, updated)
        expiration = None
        if job.state & State.RUNNING and "attributes.system.duration" in updates:
            expiration = self._expiration(job, updated.duration)

        events = manager.events
        if not validate and owner and msg.userid != job.userid:
            events.post(job, "set-flags", {"flags": ["immutable"]})
        events.post(job, "jobspec-update", updates)
        if expiration is not None:
            events.post(job, "resource-update", {"expiration": expiration})
        msg.respond({})

    def _check_feasible(self, job, updated):
        queue = updated.queue
        if queue != job.queue:
            state = self.manager.queues.queues.get(queue)
            if state is not None and not state.enabled:
                raise RequestError(errno.EINVAL, f"queue {queue} is currently disabled")
        why = self.manager.scheduler.unsatisfiable(updated)
        if why is not None:
            raise RequestError(errno.EINVAL, f"unsatisfiable request: {why}")

    @staticmethod
    def _expiration(job, duration: float) -> float:
        """The expiration a running job gets from a new duration (0: unlimited)."""
        if duration == 0:
            return 0.0
        starttime = ((job.R or {}).get("execution") or {}).get("starttime") or 0
        if starttime <= 0:
            raise RequestError(errno.EINVAL, "unable to get job starttime")
        expiration = starttime + duration
        if expiration <= time.time():
            raise RequestError(errno.EINVAL,
                               "requested duration places job expiration in the past")
        return expiration
