"""Submission: validate, number, create, ask the plugins, store, answer.

A request carries one or more jobs (``corral submit --cc`` sends them in batches).  Each job
is checked on its own: the jobspec (ingest), the queue, the urgency a guest may ask for, its
constraints (some node of its queues must match them), then ``job.create``, ``job.validate``
and ``job.dependency.*``.  A job refused at any point leaves nothing behind but a
non-committed ``invalidate`` and ``job.destroy``; an accepted one gets its ``submit`` event
stored, ``job.new``, and a queued ``validate`` that runs once the batch holding ``submit`` is
committed, when the submitter is answered too.  An item's ``memo`` (checked as a ``corral job
memo``'s) is the job's first event after ``submit``: the Slurm commands record what their
listings show this way, which a request after the submit would miss for a job that ends at
once.

The jobs of one request usually carry nearly one environment (``corral submit --cc`` copies
it into each): it is stored once per request (`store.environments`).  ``[job-manager]
max-jobs`` (Slurm's ``MaxJobCount``) caps the number of active jobs: a job beyond it is
refused before anything of it exists.
"""

import errno
import time

from .. import eventlog
from .. import jobspec as jobspec_module
from ..broker.roles import ROLE_OWNER
from ..jsoncodec import dumps
from ..limits import MAX_JOBSPEC, shorten
from ..store.environments import EnvironmentSplitter
from .event import NO_COMMIT
from .job import Job
from .memo import problem as memo_problem
from .plugin import URGENCY_DEFAULT


class SubmitError(Exception):
    def __init__(self, errnum, text):
        text = shorten(str(text))  # a plugin's or a check's text may quote the jobspec
        super().__init__(text)
        self.errnum = errnum
        self.text = text


class Submit:
    def __init__(self, manager):
        self.manager = manager
        self.max_jobs = manager.config.get_int("job-manager.max-jobs", None)
        if self.max_jobs is not None and self.max_jobs < 1:
            raise manager.config.error("job-manager.max-jobs", "must be at least 1")

    def serve(self, msg):
        store = self.manager.store
        if store.unavailable is not None:
            msg.respond_error(store.unavailable_errno,
                              f"the instance takes no new jobs for now: {store.unavailable}")
            return
        request = msg.payload_object()
        jobs = request.get("jobs")
        if not isinstance(jobs, list) or not jobs:
            msg.respond_error(errno.EPROTO, "submit needs a non-empty 'jobs' array")
            return
        results = []
        accepted = []
        environments = EnvironmentSplitter(self.manager.store.add_environment, msg.userid)
        for item in jobs:
            try:
                job = self._submit_one(item, msg.userid, msg.rolemask, environments)
            except SubmitError as exc:
                results.append({"errnum": exc.errnum, "errstr": exc.text})
            else:
                results.append({"id": job.id})
                accepted.append(job)
        manager = self.manager
        manager.submitted += len(accepted)
        manager.refused += len(results) - len(accepted)
        if accepted:
            manager.store.kv_set("next_id", manager.next_id)
        manager.store.after_commit(lambda: self._committed(msg, accepted, results))

    def _committed(self, msg, accepted, results):
        events = self.manager.events
        for job in accepted:
            job.hold_events = False
            events.drain(job)
        msg.respond({"jobs": results})

    def _submit_one(self, item, userid, rolemask, environments):
        manager = self.manager
        if self.max_jobs is not None and len(manager.active) >= self.max_jobs:
            raise SubmitError(errno.EAGAIN,
                              f"the instance already has {self.max_jobs} active jobs, its "
                              "limit ([job-manager] max-jobs): submit again when some have "
                              "ended")
        if not isinstance(item, dict) or not isinstance(item.get("jobspec"), dict):
            raise SubmitError(errno.EPROTO, "each job needs a 'jobspec' object")
        urgency = item.get("urgency", URGENCY_DEFAULT)
        flags = item.get("flags", 0)
        if type(urgency) is not int or not 0 <= urgency <= 31:
            raise SubmitError(errno.EINVAL, "urgency must be an integer from 0 to 31")
        if not rolemask & ROLE_OWNER and urgency > URGENCY_DEFAULT:
            raise SubmitError(errno.EINVAL,
                              f"urgency range is [0:{URGENCY_DEFAULT}] for guest users")
        if type(flags) is not int:
            raise SubmitError(errno.EPROTO, "flags must be an integer")
        memo = item.get("memo")
        if memo is not None and (refused := memo_problem(memo)) is not None:
            raise SubmitError(*refused)
        spec = item["jobspec"]
        try:
            request = jobspec_module.validate(spec)
        except jobspec_module.JobspecError as exc:
            raise SubmitError(errno.EINVAL, str(exc)) from None
        queues = manager.queues
        for queue in request.queues or (request.queue,):
            queue_error = queues.check_submit(queue)
            if queue_error is not None:
                raise SubmitError(errno.EINVAL, queue_error)
        default_queue = request.queue is None and queues.default is not None
        if default_queue:
            # The default queue goes into the jobspec, where plugins and limits look for it.
            spec.setdefault("attributes", {}).setdefault("system", {})["queue"] = queues.default
            request = request._replace(queue=queues.default)
        if not request.duration:
            duration = queues.default_duration(request.queue)
            if duration is not None:
                spec["attributes"]["system"]["duration"] = duration
                request = request._replace(duration=duration)
        refusal = manager.scheduler.constraint_refusal(request)
        if refusal is not None:
            raise SubmitError(errno.EINVAL, f"unsatisfiable request: {refusal}")

        job_id = manager.next_id
        manager.next_id += 1
        t_submit = time.time()
        redacted = jobspec_module.redact(spec)
        job = Job(job_id, userid, t_submit, redacted, request)
        job.environment = spec.get("attributes", {}).get("system", {}).get("environment")
        job.hold_events = True
        context = {"userid": userid, "urgency": urgency, "flags": flags, "version": 1}
        if default_queue:
            context["default_queue"] = True  # a restart moves it if its queue is gone
        submit_event = eventlog.entry("submit", context, t_submit)
        events = manager.events
        events.process_first(job, submit_event)
        manager.active[job_id] = job

        jobtap = manager.jobtap
        error = jobtap.call_early(job, "job.create")
        if error is None:
            error = jobtap.call_early(job, "job.validate")
        if error is None:
            error = jobtap.check_dependencies(job)
        if error is not None:
            self._reject(job)
            raise SubmitError(errno.EINVAL, error)
        # The environment is bounded with the command (MAX_EXEC_BYTES) and stored apart.
        spec_text = dumps(redacted)
        if len(spec_text) > MAX_JOBSPEC:
            self._reject(job)
            raise SubmitError(errno.E2BIG, f"jobspec: {len(spec_text)} characters of JSON, "
                                           f"over the limit of {MAX_JOBSPEC}")

        environment_key, environment_own = environments.split(job.environment)
        manager.store.add_job(job_id, userid, t_submit, spec_text, environment_key,
                              environment_own)
        job.seq = 1
        manager.store.append_event(
            job_id, 0, submit_event, eventlog.encode_context(submit_event["context"]), job
        )
        jobtap.call(job, "job.new")
        manager.wait.job_active(job)
        if memo is not None:
            job.event_queue.append((eventlog.entry("memo", memo), 0))
        job.event_queue.append((eventlog.entry("validate"), 0))
        return job

    def _reject(self, job):
        manager = self.manager
        job.event_queue.clear()
        manager.events.process(job, eventlog.entry("invalidate"), NO_COMMIT)
        manager.jobtap.call(job, "job.destroy")
        manager.jobtap.job_destroyed(job)
        del manager.active[job.id]
