"""The one place where jobs change state: post, apply, notify, act.

Every verb of the job manager posts events here; nothing else moves a job between states.
Posting follows Flux's per-job event queue: an event posted to a job that is already processing
one (from inside its callbacks) or that is held (its ``submit`` is not yet committed) waits its
turn; an event posted to an idle job is processed at once, with everything it triggers, before
`post` returns.  Processing one event is: apply it to the job (RFC 21 transitions), queue it
for the store, tell subscribed plugins (``job.event.*``), ``job.update`` for jobspec updates,
``job.state.*`` on a state change, then run the state's action, which is idempotent and
re-evaluated after every event.
"""

import logging

from .. import eventlog
from ..jsoncodec import dumps
from ..states import (
    CLEANUP,
    DEPEND,
    INACTIVE,
    JOB_FLAGS,
    NEW,
    PRIORITY,
    RUN,
    RUNNING,
    SCHED,
    STATE_TOPIC_NAMES,
)
from .annotate import merge_annotations
from .job import PRIORITY_UNSET, Job
from .update import apply_jobspec_updates

log = logging.getLogger("corral.job-manager")

#: Event flag: journal only, never stored (RFC 21 ``invalidate``, ``annotations``).
NO_COMMIT = 1

_STATE_TOPICS = {int(state): f"job.state.{name}" for state, name in STATE_TOPIC_NAMES.items()}
_TIMESTAMP_SLOTS = {
    DEPEND: "t_depend",
    SCHED: "t_sched",
    RUN: "t_run",
    CLEANUP: "t_cleanup",
    INACTIVE: "t_inactive",
}


class EventError(ValueError):
    """An event that cannot apply to the job in its current state."""


class EventNames:
    """Small integers for event names, so a job can remember which events it has seen in
    one int (flux_jobtap_job_event_posted) instead of a set per job."""

    def __init__(self):
        self._index: dict[str, int] = {}

    def bit(self, name: str) -> int:
        index = self._index.get(name)
        if index is None:
            index = self._index[name] = len(self._index)
        return 1 << index

    def known_bit(self, name: str) -> int:
        index = self._index.get(name)
        return 0 if index is None else 1 << index


# --- RFC 21 transitions (event_job_update) ---------------------------------------------
# Each function applies one event's effect to a job; they are also how restart rebuilds a job
# from its stored eventlog, so they must not have side effects beyond the job itself.


def _submit(job, event, context):
    if job.state != NEW:
        raise EventError("submit must be the first event")
    job.t_submit = event["timestamp"]
    job.urgency = context["urgency"]
    job.userid = context["userid"]
    job.flags = context.get("flags", 0)


def _invalidate(job, event, context):
    job.readonly = True


def _validate(job, event, context):
    job.state = DEPEND


def _jobspec_update(job, event, context):
    apply_jobspec_updates(job, context)
    if job.state == SCHED:
        job.state = PRIORITY


def _resource_update(job, event, context):
    if job.R is not None and "expiration" in context:
        job.R["execution"]["expiration"] = context["expiration"]


def _dependency_add(job, event, context):
    if job.state in (NEW, DEPEND):
        description = context["description"]
        if job.dependencies is None:
            job.dependencies = {}  # (a dict: listings show them in the order added)
            job.dependencies_ever = set()
        job.dependencies[description] = None
        job.dependencies_ever.add(description)


def _dependency_remove(job, event, context):
    if job.state in (NEW, DEPEND):
        if job.dependencies is not None:
            job.dependencies.pop(context["description"], None)


def _set_flags(job, event, context):
    for flag in context["flags"]:
        if flag == "alloc-bypass":
            job.alloc_bypass = True
        elif flag not in JOB_FLAGS:
            raise EventError(f"unknown job flag '{flag}'")
        job.flags |= JOB_FLAGS.get(flag, 0)



def _memo(job, event, context):
    job.annotations = merge_annotations(job.annotations, {"user": context})


def _depend(job, event, context):
    if job.state == DEPEND:
        job.state = PRIORITY


def _priority(job, event, context):
    if job.state in (PRIORITY, SCHED):
        job.priority = context["priority"]
    if job.state == PRIORITY:
        job.state = SCHED


def _urgency(job, event, context):
    job.urgency = context["urgency"]
    job.hold_reason = None  # a requeue hold is released (or replaced) by any urgency change
    if job.state == SCHED:
        job.state = PRIORITY


def _exception(job, event, context):
    if job.state in (NEW, INACTIVE):
        return
    if context["severity"] == 0:
        if context["type"] == "scheduler-restart":
            job.has_resources = False
        if job.end_event is None:
            job.end_event = event
            job.exception = {
                "type": context["type"],
                "severity": 0,
                "note": context.get("note", ""),
            }
        job.state = CLEANUP


def _alloc(job, event, context):
    job.has_resources = True
    if job.state == SCHED:
        job.state = RUN


def _free(job, event, context):
    job.has_resources = False


def _start(job, event, context):
    job.started = True


def _finish(job, event, context):
    job.waitstatus = context["status"]
    if job.state == RUN:
        if job.end_event is None:
            job.end_event = event
        job.state = CLEANUP


def _release(job, event, context):
    if not isinstance(context.get("final"), bool):
        raise EventError("release needs a boolean 'final'")


def _clean(job, event, context):
    if job.state == CLEANUP:
        job.state = INACTIVE


def _prolog(job, event, context):
    if not job.start_pending:
        _perilog(job, event)


def _epilog(job, event, context):
    if job.state == CLEANUP:
        _perilog(job, event)


def _perilog(job, event):
    if event["name"].endswith("-start"):
        if job.perilog_active == 255:
            raise EventError("too many prolog/epilog actions (EOVERFLOW)")
        job.perilog_active += 1
    elif job.perilog_active > 0:
        job.perilog_active -= 1


def _restart(job, event, context):
    if job.state == SCHED:
        job.state = PRIORITY


def _requeue(job, event, context):
    """corral's extension: CLEANUP back to PRIORITY for another run (Slurm requeue)."""
    if job.state != CLEANUP:
        raise EventError("requeue is only valid in CLEANUP")
    job.state = PRIORITY
    # The run and cleanup times are the current run's: kept, the last run's cleanup would
    # come before the next run's start (a negative runtime) and its start would date a
    # pending job's wait.
    job.t_run = job.t_cleanup = None
    job.end_event = None
    job.exception = None
    job.waitstatus = None
    job.R = None
    job.ranks = None
    job.nodelist = None
    job.nnodes = 0
    job.has_resources = False
    job.free_posted = False
    job.started = False
    job.start_pending = False
    job.requeue_request = None
    job.priority = PRIORITY_UNSET
    job.restart_count += 1
    job.launch_failures = context.get("launch_failures", job.launch_failures)
    hold = context.get("hold")
    if hold:
        job.urgency = 0
    job.hold_reason = context.get("reason") if hold else None
    delay = context.get("delay")
    job.t_eligible = event["timestamp"] + delay if delay else None


APPLY = {
    "submit": _submit,
    "invalidate": _invalidate,
    "validate": _validate,
    "jobspec-update": _jobspec_update,
    "resource-update": _resource_update,
    "dependency-add": _dependency_add,
    "dependency-remove": _dependency_remove,
    "set-flags": _set_flags,
    "memo": _memo,
    "depend": _depend,
    "priority": _priority,
    "urgency": _urgency,
    "exception": _exception,
    "alloc": _alloc,
    "free": _free,
    "start": _start,
    "finish": _finish,
    "release": _release,
    "clean": _clean,
    "prolog-start": _prolog,
    "prolog-finish": _prolog,
    "epilog-start": _epilog,
    "epilog-finish": _epilog,
    "restart": _restart,
    "requeue": _requeue,
}


def apply(job: Job, event: dict):
    """Apply one event to a job (RFC 21), recording when it entered a new state."""
    old_state = job.state
    handler = APPLY.get(event["name"])
    if handler is not None:
        try:
            handler(job, event, event.get("context") or {})
        except (KeyError, TypeError) as exc:
            raise EventError(f"{event['name']} event has a malformed context ({exc})") from None
    if job.state != old_state:
        slot = _TIMESTAMP_SLOTS.get(job.state)
        if slot is not None:
            setattr(job, slot, event["timestamp"])


class EventProcessor:
    """Posts events to jobs and drives each job's state machine."""

    def __init__(self, manager):
        self.manager = manager
        self.names = EventNames()

    def post(self, job: Job, name: str, context: dict | None = None, flags: int = 0):
        """Post an event now, or queue it behind the event the job is processing."""
        if job.readonly:
            return
        queue = job.event_queue
        queue.append((eventlog.entry(name, context), flags))
        if len(queue) > 1 or job.hold_events:
            return
        self.drain(job)

    def drain(self, job: Job):
        """Process queued events in order until the queue is empty or the job is held."""
        queue = job.event_queue
        while queue and not job.hold_events and not job.readonly:
            event, flags = queue[0]
            try:
                self.process(job, event, flags)
            except EventError as exc:
                log.error("job %d: %s event refused: %s", job.id, event["name"], exc)
            except Exception:  # a bug must not take the whole job manager down
                log.exception("job %d: error processing %s event", job.id, event["name"])
            queue.popleft()
        if job.readonly:
            queue.clear()

    def process_first(self, job: Job, event: dict):
        """Apply a new job's ``submit`` before the plugins are asked about the job; it is
        stored only if they accept it."""
        apply(job, event)
        job.events_posted |= self.names.bit(event["name"])

    def queued(self, job: Job, name: str) -> bool:
        """Is an event of this name waiting in (or at the head of) the job's queue?"""
        for event, _flags in job.event_queue:
            if event["name"] == name:
                return True
        return False

    def process(self, job: Job, event: dict, flags: int):
        manager = self.manager
        name = event["name"]
        old_state = job.state
        if name == "exception" and old_state == NEW:
            if (event.get("context") or {}).get("severity") == 0:
                raise EventError("fatal job exception was posted in NEW state")
        apply(job, event)
        job.events_posted |= self.names.bit(name)
        if not flags & NO_COMMIT:
            job.seq += 1
            manager.store.append_event(
                job.id, job.seq - 1, event, eventlog.encode_context(event.get("context")), job
            )

        state = job.state
        if state != old_state:
            running = bool(state & RUNNING)
            if running != bool(old_state & RUNNING):
                manager.running_changed(1 if running else -1)
        jobtap = manager.jobtap
        if job.subscribers:
            jobtap.notify_subscribers(job, name, event)
        if name == "jobspec-update":
            # The stored jobspec stays the current one, as flux-core rewrites it in the KVS
            # (its environment is stored apart, unchanged).
            manager.store.set_jobspec(job.id, dumps(job.jobspec))
            manager.alloc.request_changed(job)
            jobtap.call(job, "job.update", updates=event.get("context") or {})
        elif name == "resource-update" and job.R is not None:
            manager.store.set_R(job.id, dumps(job.R))  # the stored R stays the current one
            manager.start.update_expiration(job)
        if job.state != old_state:
            jobtap.call(job, _STATE_TOPICS[job.state], entry=event, prev_state=old_state)
        self.action(job)

    def action(self, job: Job):
        """Do what the job's state calls for (event_job_action); safe to repeat."""
        manager = self.manager
        state = job.state
        if state == DEPEND:
            if (
                not job.dependencies
                and not job.depend_posted
                and not self.queued(job, "dependency-add")
            ):
                job.depend_posted = True
                self.post(job, "depend")
        elif state == PRIORITY:
            if job.alloc_pending:
                manager.alloc.cancel(job)
        elif state == SCHED:
            manager.alloc.enqueue(job)
        elif state == RUN:
            if not job.perilog_active and not self.queued(job, "prolog-start"):
                manager.start.send(job)
        elif state == CLEANUP:
            self._cleanup_action(job)
        elif state == INACTIVE:
            manager.retire(job)

    def _cleanup_action(self, job: Job):
        manager = self.manager
        if job.alloc_pending:
            manager.alloc.cancel(job)
        if job.start_pending:
            manager.start.cancel(job)
        epilog_waiting = job.perilog_active or self.queued(job, "epilog-start")
        if (
            job.has_resources
            and not epilog_waiting
            and not job.start_pending
            and not job.free_posted
        ):
            if not job.alloc_bypass:
                manager.alloc.free(job)
            job.free_posted = True
            # Processing ``free`` runs this action again, which posts ``clean`` if nothing
            # else holds the job: by the time `post` returns the job may be INACTIVE.
            self.post(job, "free")
            return
        if (
            not job.alloc_pending
            and not job.start_pending
            and not job.has_resources
            and not epilog_waiting
            and not self.queued(job, "clean")
            and not self.queued(job, "requeue")
        ):
            if job.requeue_request is not None:
                self.post(job, "requeue", job.requeue_request)
            else:
                self.post(job, "clean")
