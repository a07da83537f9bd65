"""The job manager: every job's state, its eventlog, and the jobtap plugin stack.

As in flux-core's ``src/modules/job-manager``, each verb has its own module (submit, event,
alloc, start, raise_, kill, urgency, memo, prioritize, wait, purge, restart, queue, annotate,
update, info, joblist, jobtap) and `event` is the only place where a job changes state.
This module wires them together and owns the tables of active and inactive jobs.
"""

import errno
import logging
import time

from .. import output
from ..broker.handle import Handle
from ..broker.message import RequestError
from ..broker.roles import ROLE_OWNER, ROLE_USER
from ..states import State
from . import restart
from .alloc import Alloc
from .annotate import merge_annotations
from .event import NO_COMMIT, EventProcessor
from .info import Info
from .joblist import JobList
from .jobtap import JobtapHost
from .kill import Kill
from .memo import Memo
from .prioritize import Prioritize
from .purge import Purge
from .queue import Queues
from .raise_ import Raise
from .requeue import Requeue
from .start import Start
from .step import Steps
from .submit import Submit
from .update import Update
from .urgency import Urgency
from .wait import Wait, require_job_id

log = logging.getLogger("corral.job-manager")


class JobManager:
    def __init__(self, loop, broker, config, owner_uid, output_dir, *, store, scheduler,
                 exec_service, jobtap_path=(), slow_callback_threshold=0.1,
                 callback_clock=time.perf_counter):
        """``store``, ``scheduler`` and ``exec_service`` build the parts that answer the job
        manager, each called once, here, with what receives its answers:
        ``store(on_committed)``, ``scheduler(answers)`` (an `corral.sched.AllocAnswers`),
        ``exec_service(answers)`` (an `corral.exec.ExecAnswers`).  So the job manager and
        its collaborators know each other from construction on, and nothing is connected
        afterwards (`corral.assembly` gives the factories)."""
        self.loop = loop
        self.broker = broker
        self.config = config
        self.owner_uid = owner_uid
        self.output_dir = output_dir
        self.handle = Handle(broker, log)
        self.active: dict[int, object] = {}
        self.inactive: dict[int, object] = {}
        self.next_id = 1
        self.running = 0
        # Counted for the metrics endpoint: jobs accepted and refused at submit, and jobs
        # that ended, by result.
        self.submitted = 0
        self.refused = 0
        self.ended_by_result: dict = {}
        self.info = Info(self)
        self.store = store(self.info.committed)
        self.events = EventProcessor(self)
        self.jobtap = JobtapHost(self, list(jobtap_path), slow_callback_threshold,
                                 callback_clock)
        self.queues = Queues(self, config)
        self.alloc = Alloc(self, scheduler)
        self.scheduler = self.alloc.scheduler
        self.start = Start(self, exec_service)
        self.steps = Steps(self)
        self.prioritize = Prioritize(self)
        self.submit = Submit(self)
        self.wait = Wait(self)
        self.joblist = JobList(self)
        self.purge = Purge(self, config)

    # --- start-up ---------------------------------------------------------------------

    def load_builtins(self):
        for name in self.jobtap.builtin_names():
            self.jobtap.load(name)

    def restart(self):
        """Reload jobs from the store (before plugins from config are loaded)."""
        return restart.reload_jobs(self)

    def resume(self, jobs):
        restart.resume_jobs(self, jobs)

    def register_services(self):
        register = self.broker.register
        anyone = ROLE_OWNER | ROLE_USER
        register("job-manager.submit", self.submit.serve, anyone)
        register("job-manager.raise", Raise(self).serve, anyone)
        register("job-manager.raiseall", Raise(self).serve_all, anyone)
        register("job-manager.kill", Kill(self).serve, anyone)
        register("job-manager.urgency", Urgency(self).serve, anyone)
        register("job-manager.memo", Memo(self).serve, anyone)
        register("job-manager.requeue", Requeue(self).serve, ROLE_OWNER)
        register("job-manager.purge", self.purge.serve, ROLE_OWNER)
        register("job-manager.update", Update(self).serve, anyone)
        register("job-manager.wait", self.wait.serve, anyone)
        register("job-manager.queue-status", self.queues.serve_status, anyone)
        register("job-manager.queue-enable", self.queues.serve_enable, ROLE_OWNER)
        register("job-manager.queue-start", self.queues.serve_start, ROLE_OWNER)
        register("job-manager.queue-drain", self.wait.serve_drain, anyone)
        register("job-manager.queue-idle", self.wait.serve_idle, anyone)
        register("job-manager.getinfo", self._serve_getinfo, anyone)
        self.steps.register_services(register, anyone)
        register("job-info.eventlog", self.info.serve_eventlog, anyone)
        register("job-info.wait-event", self.info.serve_wait_event, anyone)
        register("job-info.lookup", self.info.serve_lookup, anyone)
        register("job-info.output", self.info.serve_output, anyone)
        register("job-list.list", self.joblist.serve_list, anyone)
        register("job-list.list-id", self.joblist.serve_list_id, anyone)
        register("job-list.job-stats", self.joblist.serve_stats, anyone)
        self.jobtap.register_services(self.broker)

    def _serve_getinfo(self, msg):
        msg.respond({"max_jobid": self.next_id - 1, "active": len(self.active),
                     "inactive": len(self.inactive), "running": self.running})

    # --- operations shared by the verbs -----------------------------------------------

    def raise_exception(self, job, type_, severity, note, userid):
        context = {"type": type_, "severity": severity, "note": note, "userid": userid}
        self.events.post(job, "exception", context)

    def annotate(self, job, annotations, publish=True):
        job.annotations = merge_annotations(job.annotations, annotations)
        if publish:
            self.events.post(job, "annotations", {"annotations": job.annotations}, NO_COMMIT)

    def running_changed(self, delta: int):
        self.running += delta
        if delta < 0:
            self.wait.running_changed()

    def queue_state_changed(self, queues, started: bool):
        if not started:
            for job in self.active.values():
                if job.alloc_pending and not self.queues.started(job.queue):
                    self.alloc.cancel(job)
            return
        for job in list(self.active.values()):
            if job.state == State.SCHED:
                self.alloc.enqueue(job)

    def shutdown(self, note: str):
        """The instance is stopping: running jobs end with a fatal exception."""
        for job in list(self.active.values()):
            if job.state == State.RUN:
                self.raise_exception(job, "exec", 0, note, self.owner_uid)

    def retire(self, job):
        """The INACTIVE action: read-only, waiters told, plugins told, aux destroyed."""
        job.readonly = True
        job.result = result = job.compute_result()
        self.ended_by_result[result] = self.ended_by_result.get(result, 0) + 1
        self.active.pop(job.id, None)
        self.inactive[job.id] = job
        self.jobtap.call(job, "job.inactive-add")
        self.jobtap.call(job, "job.destroy")
        self.jobtap.job_destroyed(job)
        self.store.set_final(job.id, int(State.INACTIVE), job.summary())
        job.retire()
        self.wait.job_inactive(job)

    # --- lookups for services ---------------------------------------------------------

    def job_for(self, msg, job_id):
        """An active or inactive job the requester may see (ENOENT / EPERM otherwise)."""
        require_job_id(job_id)
        job = self.active.get(job_id) or self.inactive.get(job_id)
        if job is None or job.state == State.NEW and job.hold_events:
            raise RequestError(errno.ENOENT, f"unknown job id {job_id}")
        if not msg.rolemask & ROLE_OWNER and job.userid != msg.userid:
            raise RequestError(errno.EPERM, f"job {job_id} belongs to another user")
        return job

    def active_job_for(self, msg, job_id):
        job = self.job_for(msg, job_id)
        if job.state == State.INACTIVE:
            raise RequestError(errno.EINVAL, f"job {job_id} is inactive")
        return job

    def stored_jobspec_and_R(self, job):
        """The full jobspec and R of a job whose in-memory copies were dropped."""
        row = self.store.job_row(job.id)
        if row is None:
            return None, None
        return row[2], row[3]

    def full_jobspec(self, job) -> dict:
        """The job's current jobspec with its environment (the job keeps them apart)."""
        if job.jobspec is None:
            return self.stored_jobspec_and_R(job)[0]
        spec = job.jobspec
        if job.environment is None:
            return spec
        attributes = spec.get("attributes", {})
        system = {**attributes.get("system", {}), "environment": job.environment}
        return {**spec, "attributes": {**attributes, "system": system}}

    def output_paths(self, job) -> list[tuple[str, str]]:
        """``[(stream, path)]`` where the job's stdout and stderr are kept."""
        spec = job.jobspec if job.jobspec is not None else self.stored_jobspec_and_R(job)[0]
        system = (spec or {}).get("attributes", {}).get("system", {})
        stdout, stderr, _kept = output.paths(job.id, job.name, job.userid, system,
                                             self.output_dir)
        if stderr == stdout:
            return [("stdout", stdout)]
        return [("stdout", stdout), ("stderr", stderr)]
