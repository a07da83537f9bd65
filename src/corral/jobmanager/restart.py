"""Restart: rebuild every job from the store and carry on where the last controller stopped.

Active jobs are rebuilt by replaying their stored eventlogs through the same transition
functions that built them; inactive jobs come back from their summaries, without replay, so a
large history loads quickly.  Then, as Flux's restart does: dependency callbacks for NEW and
DEPEND jobs (failures become non-fatal ``dependency`` exceptions), ``job.create`` and
``job.new`` for every active job, a ``restart`` event for SCHED jobs (back to PRIORITY, so
priorities are recomputed), the state actions, and a reprioritization when jobs wait in
PRIORITY.  A job whose tasks were started by the
previous controller cannot be reattached: it gets a fatal ``exec`` exception that says so.
Inactive jobs get ``job.inactive-add`` and ``job.destroy``, as in flux-core, so that plugins
keeping a history (``.history``) know them again.
"""

import logging

from .. import idset, resource_set
from .. import jobspec as jobspec_module
from ..states import State
from .event import EventError, apply
from .job import Job, job_from_summary

log = logging.getLogger("corral.job-manager")

LOST_NOTE = "the controller stopped while the job was running; its tasks were terminated"


def reload_jobs(manager) -> list[Job]:
    """Rebuild jobs from the store; return the active ones, oldest first."""
    store = manager.store
    names = manager.events.names
    highest = 0
    for job_id, summary in store.inactive_summaries():
        job = job_from_summary(summary)
        manager.inactive[job_id] = job
        highest = max(highest, job_id)
    active = []
    for job_id, userid, t_submit, spec, R, events in store.active_jobs():
        highest = max(highest, job_id)
        try:
            request = jobspec_module.validate(spec)
        except jobspec_module.JobspecError as exc:
            log.error("job %d: stored jobspec is no longer valid (%s); skipping it", job_id, exc)
            continue
        job = Job(job_id, userid, t_submit, jobspec_module.redact(spec), request)
        job.environment = spec.get("attributes", {}).get("system", {}).get("environment")
        for event in events:
            try:
                apply(job, event)
            except EventError as exc:
                log.error("job %d: replaying %s: %s", job_id, event["name"], exc)
            job.events_posted |= names.bit(event["name"])
        job.seq = job.committed_seq = len(events)
        if job.has_resources and R is not None:
            job.R = R
            job.ranks = resource_set.ranks_of(R)
            job.nodelist = resource_set.nodelist(R)
            job.nnodes = len(job.ranks)
            manager.scheduler.reserve(job, _released_since_alloc(events))
        if any(event["name"] == "depend" for event in events):
            job.depend_posted = True
        manager.active[job_id] = job
        if job.state & State.RUNNING:
            manager.running += 1
        active.append(job)
    manager.next_id = max(store.kv_get("next_id", 1), highest + 1)
    return active


def resume_jobs(manager, jobs: list[Job]):
    """Re-invoke the callbacks a restart invokes and let every job carry on."""
    jobtap = manager.jobtap
    events = manager.events
    for job_id in sorted(manager.inactive):
        inactive = manager.inactive[job_id]
        jobtap.call(inactive, "job.inactive-add")
        jobtap.call(inactive, "job.destroy")
    for job in jobs:
        if job.state in (State.NEW, State.DEPEND):
            jobtap.check_dependencies(job, raise_exception=True)
        jobtap.call(job, "job.create")
        jobtap.call(job, "job.new")
    for job in jobs:
        if job.state == State.NEW:
            events.post(job, "validate")
        elif job.state == State.SCHED:
            job.priority = -1
            events.post(job, "restart")
        elif job.state == State.RUN:
            manager.raise_exception(job, "exec", 0, LOST_NOTE, manager.owner_uid)
        else:
            events.action(job)
    if any(job.state == State.PRIORITY for job in jobs):
        # Jobs that waited for a priority get one from the plugins now loaded, as after a
        # plugin load (the plugin that held them back may have lost what it was waiting for).
        manager.prioritize.reprioritize_all()


def _released_since_alloc(events) -> set[int]:
    """Ranks a job gave back (partial ``release`` events) since its last ``alloc``."""
    released = set()
    for event in reversed(events):
        if event["name"] == "alloc":
            break
        if event["name"] == "release":
            released.update(idset.decode(event["context"]["ranks"]))
    return released
