"""Restart: rebuild every job from the store and carry on where the last controller stopped.

Active jobs are rebuilt by replaying their stored eventlogs through the same transition
functions that built them; inactive jobs come back from their summaries, without replay, so a
large history loads quickly.  Then, as Flux's restart does: dependency callbacks for NEW and
DEPEND jobs (failures become non-fatal ``dependency`` exceptions), ``job.create`` and
``job.new`` for every active job, a ``restart`` event for SCHED jobs (back to PRIORITY, so
priorities are recomputed), the state actions, and a reprioritization when jobs wait in
PRIORITY.  A job that was running stays in RUN when its tasks outlived the previous
controller (agents of their own: exec takes them back, and the job ends when they do);
otherwise it gets a fatal ``exec`` exception that says its tasks were terminated.
Inactive jobs get ``job.inactive-add`` and ``job.destroy``, as in flux-core, so that plugins
keeping a history (``.history``) know them again.

Whatever the store holds, one start succeeds: a job that cannot be rebuilt (a jobspec this
version refuses, resources no longer configured) or whose resumption fails is ended with a
fatal ``restart`` exception that says why, instead of stopping the start or being skipped at
every start.

So is a pending job that named a queue this configuration lacks (flux-core's job manager
would leave it waiting forever, fluxion denies it; slurmctld ends jobs of a partition that is
gone): it must not run on other nodes.  A pending job that named no queue and was given the
default one follows the default of this configuration instead, as if submitted now.  Running
jobs keep running where their queue's nodes were, as in Flux; `Alloc` denies one requeued
later.
"""

import logging

from .. import eventlog, idset, resource_set
from .. import jobspec as jobspec_module
from ..jsoncodec import dumps
from ..states import State
from .event import EventError, apply
from .job import Job, job_from_summary
from .queue import gone_text

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
            if spec is None:
                raise jobspec_module.JobspecError("it is not valid JSON")
            request = jobspec_module.validate(spec)
        except jobspec_module.JobspecError as exc:
            _end_unrecoverable(manager, Job(job_id, userid, t_submit, None, None), events,
                               f"its stored jobspec is no longer valid ({exc})")
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
        if job.state & (State.NEW | State.PENDING) and _queue_was_given(events):
            _follow_default_queue(manager, job)
        if job.has_resources and R is not None:
            try:
                job.R = R
                job.ranks = resource_set.ranks_of(R)
                job.nodelist = resource_set.nodelist(R)
                job.nnodes = len(job.ranks)
                manager.alloc.reserve(job, _released_since_alloc(events))
            except Exception as exc:  # whatever R holds, the start goes on
                _end_unrecoverable(manager, job, events,
                                   f"its resources cannot be given back to it ({exc})")
                continue
        if any(event["name"] == "depend" for event in events):
            job.depend_posted = True
        manager.active[job_id] = job
        manager.wait.job_active(job)
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
        try:
            if job.state in (State.NEW, State.DEPEND):
                jobtap.check_dependencies(job, raise_exception=True)
            jobtap.call(job, "job.create")
            jobtap.call(job, "job.new")
        except Exception as exc:  # one job's failure does not stop the start
            _fail_resumption(manager, job, exc)
    for job in jobs:
        if job.readonly:
            continue
        try:
            gone = _gone_queues(manager, job)
            if gone:
                _end_for_gone_queues(manager, job, gone)
            elif job.state == State.NEW:
                events.post(job, "validate")
            elif job.state == State.SCHED:
                job.priority = -1
                events.post(job, "restart")
            elif job.state == State.RUN:
                # A job whose prolog was still open never had a start request sent: there
                # are no tasks to take back, even where they outlive the controller.
                if job.perilog_active or not manager.start.reattach(job):
                    manager.raise_exception(job, "exec", 0, LOST_NOTE, manager.owner_uid)
                else:
                    manager.steps.reattach(job)
            else:
                events.action(job)
        except Exception as exc:  # one job's failure does not stop the start
            _fail_resumption(manager, job, exc)
    if any(job.state == State.PRIORITY for job in jobs):
        # Jobs that waited for a priority get one from the plugins now loaded, as after a
        # plugin load (the plugin that held them back may have lost what it was waiting for).
        manager.prioritize.reprioritize_all()


def _queue_was_given(events: list[dict]) -> bool:
    """Was the job's queue the default given at submit (``default_queue``), not one it named
    then or by an update since?  Only such a job may be moved to another queue."""
    if not events or not (events[0].get("context") or {}).get("default_queue"):
        return False
    return not any(event["name"] == "jobspec-update"
                   and "attributes.system.queue" in (event.get("context") or {})
                   for event in events)


def _follow_default_queue(manager, job: Job):
    """A job given a default queue that is no longer configured goes to today's default (no
    queue when none is configured), written into its stored jobspec as at submit; with
    queues but no default it stays, to be ended by `_end_for_gone_queues`."""
    queues = manager.queues
    if not queues.unconfigured(job.request) or (queues.named and queues.default is None):
        return
    system = job.jobspec["attributes"]["system"]
    old = system.pop("queue")
    if queues.default is not None:
        system["queue"] = queues.default
    job.request = jobspec_module.validate(job.jobspec)
    job.queue = job.request.queue
    manager.store.set_jobspec(job.id, dumps(job.jobspec))
    log.warning("job %d: its default queue %s is no longer configured; it goes to %s",
                job.id, old, queues.default or "the anonymous queue")


def _gone_queues(manager, job: Job) -> list[str]:
    """The queues a pending job named that are no longer configured.  A running job is left
    alone: it holds nodes its queue owned when it started, and may finish there."""
    if not job.state & State.PENDING:
        return []
    return manager.queues.unconfigured(job.request)


def _end_for_gone_queues(manager, job: Job, gone: list[str]):
    """End a pending job whose queues are gone with a fatal ``restart`` exception, as a job
    whose resources are gone is ended: run elsewhere, it would break its queue's promise."""
    why = gone_text(gone)
    log.error("job %d: %s; ending it", job.id, why)
    manager.raise_exception(job, "restart", 0, f"the job cannot run after a restart: {why}",
                            manager.owner_uid)


def _released_since_alloc(events) -> set[int]:
    """Ranks a job gave back (partial ``release`` events) since its last ``alloc``."""
    released = set()
    for event in reversed(events):
        if event["name"] == "alloc":
            break
        if event["name"] == "release":
            released.update(idset.decode(event["context"]["ranks"]))
    return released


def _fail_resumption(manager, job: Job, exc: Exception):
    """A job whose resumption raised ends with a fatal exception that says so."""
    log.error("job %d: cannot be resumed after restart: %s", job.id, exc, exc_info=exc)
    note = f"the job could not be resumed after a restart ({type(exc).__name__}: {exc})"
    if job.state == State.NEW or job.readonly:
        return
    try:
        manager.raise_exception(job, "restart", 0, note, manager.owner_uid)
    except Exception as again:
        log.error("job %d: cannot end it with an exception either: %s", job.id, again)


def _end_unrecoverable(manager, job: Job, events: list[dict], why: str):
    """End a job that cannot be rebuilt: its stored eventlog gets a fatal ``restart``
    exception and ``clean``, and it is kept as INACTIVE, so no later start meets it again."""
    log.error("job %d: cannot be recovered: %s; ending it", job.id, why)
    for event in events:
        try:
            apply(job, event)
        except EventError:
            pass
    note = f"the job could not be recovered at restart: {why}"
    context = {"type": "restart", "severity": 0, "note": note, "userid": manager.owner_uid}
    exception = eventlog.entry("exception", context)
    clean = eventlog.entry("clean")
    store = manager.store
    for seq, event in enumerate((exception, clean), start=store.next_seq(job.id)):
        store.append_event(job.id, seq, event, eventlog.encode_context(event.get("context")))
    if job.end_event is None:
        job.end_event = exception
        job.exception = {"type": "restart", "severity": 0, "note": note}
    job.has_resources = False
    job.R = None
    job.ranks = None
    job.state = State.INACTIVE
    job.t_inactive = clean["timestamp"]
    job.result = job.compute_result()
    job.readonly = True
    job.event_queue = None
    store.set_final(job.id, int(State.INACTIVE), job.summary())
    manager.inactive[job.id] = job
