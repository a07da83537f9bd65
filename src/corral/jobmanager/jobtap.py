"""The jobtap host: the job manager's calls into plugins, and what plugins may call back.

It keeps the ordered plugin list (builtins first, ``.priority-default`` first of all), a topic
index so that a topic no plugin handles costs one dict lookup, the current-job stack that
``CURRENT_JOB`` resolves against, and the jobspec updates a callback staged.  It interprets the
OUT values the job manager reads (``priority``, ``annotations``, ``R``, ``errmsg``) exactly as
flux-core's ``jobtap_call`` does.  The per-call loop itself is `jobmanager.stack`; loading,
naming, removal and the control services are `jobmanager.jobtap_loading`.
"""

import errno
import fnmatch
import inspect
import logging
import time

from ..broker.message import RequestError
from ..states import State
from . import stack
from .jobtap_loading import PluginLoading
from .plugin import CURRENT_JOB, PRIORITY_UNAVAIL, Args, Plugin, reject_job_default
from .update import JOBSPEC_UPDATE_ROOTS, jobspec_with_updates

log = logging.getLogger("corral.jobtap")


def _fail(errnum, text):
    raise OSError(errnum, text)


class JobtapHost(PluginLoading):
    def __init__(self, manager, search_path: list[str], slow_callback_threshold: float = 0.1,
                 callback_clock=time.perf_counter):
        """``callback_clock`` reads how long a callback takes, for the slow-callback warning
        and the metrics: the wall clock where the loop serves in real time.  On a virtual
        clock nothing waits for the loop, and its wall time counts whatever else the machine
        did meanwhile (other processes, a pause): a simulation reads the thread's CPU time,
        what the callback itself cost."""
        self.manager = manager
        self.search_path = search_path
        self.slow_callback_threshold = slow_callback_threshold
        self.callback_clock = callback_clock
        # {topic: {plugin: [calls, seconds]}} while the metrics endpoint is on (`stack`).
        self.callback_times = None
        self.plugins: list[Plugin] = []
        self.current_jobs: list = []
        self.staged_jobspec_updates: dict[int, dict] = {}
        #: The plugin whose callback failed the last failed stack call.
        self.failed_plugin: Plugin | None = None
        self._index: dict[str, tuple] = {}
        # Builtins that controller subsystems add (flux-core's jobtap_register_builtin):
        # name -> plugin_init bound to that subsystem.
        self.extra_builtins: dict = {}

    def time_callbacks(self):
        """Count and time every callback from now on (the metrics endpoint is on): the
        stack call adds up its calls in `callback_times`; until then it pays nothing."""
        self.callback_times = {}

    # --- topic index ------------------------------------------------------------------

    def invalidate_index(self):
        self._index = {}

    def entries(self, topic: str, plugins=None) -> tuple:
        """``(plugin, callback, arg, has_arg)`` for each plugin that handles ``topic`` (its
        first matching handler), in load order: what the stack call needs, unpacked once."""
        if plugins is not None:
            return tuple(_match(plugin, topic) for plugin in plugins if _match(plugin, topic))
        entries = self._index.get(topic)
        if entries is None:
            found = []
            for plugin in self.plugins:
                handler = _first_handler(plugin, topic)
                if handler is not None:
                    found.append(_entry(plugin, handler))
            entries = self._index[topic] = tuple(found)
        return entries

    # --- stack calls ------------------------------------------------------------------

    def stack_call(self, job, topic, args, plugins=None) -> int:
        entries = self.entries(topic, plugins)
        if not entries:
            return 0
        return stack.stack_call(self, entries, job, topic, args)

    def job_args(self, job, **extra) -> dict:
        """The standard IN args of a job callback (flux-core's jobtap_args_create)."""
        jobspec, R = job.jobspec, job.R
        if jobspec is None and job.state == State.INACTIVE:
            args = _StoredJobArgs(self.manager, job)
            if job.end_event is not None:
                args["end_event"] = job.end_event
            if extra:
                args.update(extra)
            return args
        args = {
            "jobspec": jobspec,
            "id": job.id,
            "userid": job.userid,
            "urgency": job.urgency,
            "state": int(job.state),
            "priority": job.priority,
            "t_submit": job.t_submit,
        }
        if R is not None:
            args["R"] = R
        if job.end_event is not None:
            args["end_event"] = job.end_event
        if extra:
            args.update(extra)
        return args

    def call(self, job, topic: str, **extra) -> int:
        """jobtap_call: call ``topic`` for ``job`` and act on priority/annotations/R."""
        entries = self._index.get(topic)
        if entries is None:
            entries = self.entries(topic)
        if not entries:
            return 0
        args = Args(source=(self, job, extra))
        rc = stack.stack_call(self, entries, job, topic, args)
        if rc < 0:
            log.error("jobtap: %s: callback returned error", topic)
        if args.out:
            rc = self._apply_out(job, topic, args.out, rc)
        return rc

    def _apply_out(self, job, topic, out, rc) -> int:
        manager = self.manager
        priority = out.get("priority")
        if priority is not None and (type(priority) is not int):
            stuck = " (job may be stuck in PRIORITY state)" if job.state == State.PRIORITY else ""
            manager.raise_exception(
                job, topic, 4,
                f"arg_unpack: priority: expected integer, got {type(priority).__name__}{stuck}",
                manager.owner_uid,
            )
            return -1
        R = out.get("R")
        if R is not None:
            if topic != "job.state.sched":
                log.error("jobtap: %s: %d: R may only be set in SCHED state", topic, job.id)
                rc = -1
            elif job.R is not None:
                log.error("jobtap: %s: %d: R is already set", topic, job.id)
                rc = -1
            else:
                manager.alloc.set_R(job, R)
        annotations = out.get("annotations")
        if annotations is not None:
            if not isinstance(annotations, dict):
                log.error("jobtap: %s: %d: annotations must be an object", topic, job.id)
            else:
                manager.annotate(job, annotations, publish=topic != "job.new")
        if priority is not None and priority >= 0:
            manager.prioritize.reprioritize_job(job, priority)
        return rc

    def call_early(self, job, topic: str) -> str | None:
        """job.create / job.validate at submit: the rejection message, or None."""
        entries = self.entries(topic)
        if not entries:
            return None
        args = Args(self.job_args(job))
        if stack.stack_call(self, entries, job, topic, args) < 0:
            return self.rejection(args)
        return None

    def rejection(self, args, default="rejected by job-manager plugin",
                  prefix="rejected by") -> str:
        """What the submitter is told when a plugin failed the call with ``args``: a site
        plugin's message after its name (``rejected by limits.py: user 0 already has 2
        active jobs``), so that a user knows whom to ask; a builtin's as it is (Flux's own
        texts, which say what they are about); without a message, ``default`` naming the
        plugin."""
        plugin = self.failed_plugin
        errmsg = args.out.get("errmsg")
        if not isinstance(errmsg, str):
            return f"{default} '{plugin.display_name}'"
        if plugin.builtin or errmsg == reject_job_default(plugin):
            return errmsg
        return f"{prefix} {plugin.display_name}: {errmsg}"

    def check_dependencies(self, job, raise_exception=False, plugin=None) -> str | None:
        """Call ``job.dependency.<scheme>`` for each dependency; the first error, or None.

        With ``raise_exception`` (restart) failures become non-fatal ``dependency``
        exceptions and checking goes on; with ``plugin`` only that plugin is asked (load
        replay) and a scheme it does not handle is not an error.
        """
        dependencies = ((job.jobspec or {}).get("attributes") or {}).get("system", {}).get(
            "dependencies"
        )
        if not dependencies:
            return None
        if not isinstance(dependencies, list):
            return "dependencies object must be an array"
        for index, entry in enumerate(dependencies):
            scheme = entry.get("scheme") if isinstance(entry, dict) else None
            if not isinstance(scheme, str):
                error = f"dependency[{index}] missing string scheme"
            elif len(scheme) > 100:
                error = f"rejecting absurdly long dependency scheme: {scheme}"
            else:
                topic = f"job.dependency.{scheme}"
                args = Args(self.job_args(job, dependency=entry))
                if plugin is not None:
                    entries = self.entries(topic, [plugin])
                    if not entries:
                        continue
                    rc = stack.stack_call(self, entries, job, topic, args)
                else:
                    rc = self.stack_call(job, topic, args)
                if rc > 0:
                    continue
                if rc == 0:
                    error = f'dependency scheme "{scheme}" not supported'
                else:
                    error = self.rejection(args, "rejected by job-manager dependency plugin")
            if not raise_exception:
                return error
            self.manager.raise_exception(
                job, "dependency", 4, f"{error} (job may be stuck in DEPEND state)",
                self.manager.owner_uid,
            )
        return None

    def get_priority(self, job) -> int:
        """job.priority.get: a new priority, or the current one when none is available."""
        entries = self.entries("job.priority.get")
        if not entries:
            return job.priority
        args = Args(self.job_args(job))
        rc = stack.stack_call(self, entries, job, "job.priority.get", args)
        if rc < 0:
            log.error("jobtap: job.priority.get: callback failed")
            return job.priority
        priority = args.out.get("priority", PRIORITY_UNAVAIL)
        if type(priority) is not int:
            log.error("jobtap: job.priority.get: arg_unpack: priority: expected integer")
            return job.priority
        if priority == PRIORITY_UNAVAIL:
            if job.state == State.SCHED:
                log.error("jobtap: %d: BUG: plugin didn't return priority", job.id)
            return job.priority
        return priority

    def update_key(self, job, cred: dict, key: str, value):
        """``job.update.<key>`` for an update request: ``(needs_validation, feasibility,
        extra_updates)``, or OSError(EINVAL) with the reason the update is refused."""
        topic = f"job.update.{key}"
        args = Args(self.job_args(job, cred=cred, key=key, value=value))
        rc = self.stack_call(job, topic, args)
        if rc == 0:
            _fail(errno.EINVAL, f"update of {key} not supported")
        if rc < 0:
            _fail(errno.EINVAL, self.rejection(args, "update rejected by job-manager plugin",
                                               "update rejected by"))
        validated = args.out.get("validated", 0)
        feasibility = args.out.get("feasibility", 0)
        extra = args.out.get("updates", {})
        if type(validated) is not int or type(feasibility) is not int or not isinstance(
            extra, dict
        ):
            _fail(errno.EINVAL, "failed to unpack update flags")
        return not validated, bool(feasibility), extra

    def validate_updated(self, job, jobspec) -> str | None:
        """``job.validate`` with an updated jobspec in place of the job's: the rejection
        message, or None."""
        entries = self.entries("job.validate")
        if not entries:
            return None
        args = Args(self.job_args(job, jobspec=jobspec))
        if stack.stack_call(self, entries, job, "job.validate", args) < 0:
            return self.rejection(args)
        return None

    def notify_subscribers(self, job, name, event):
        topic = f"job.event.{name}"
        subscribers = job.subscribers
        entries = self.entries(topic, [p for p in self.plugins if p in subscribers])
        if not entries:
            return
        args = Args(self.job_args(job, entry=event))
        if stack.stack_call(self, entries, job, topic, args) < 0:
            log.error("jobtap: event.%s callback failed for job %d", name, job.id)

    # --- current job and lookups ------------------------------------------------------

    def current_job(self):
        if not self.current_jobs:
            _fail(errno.EINVAL, "no current job (only valid inside a job callback)")
        return self.current_jobs[-1]

    def _current_or_enoent(self):
        """CURRENT_JOB as an id: outside a job callback there is no such job (ENOENT)."""
        if not self.current_jobs:
            _fail(errno.ENOENT, "no current job (CURRENT_JOB is only valid in a job callback)")
        return self.current_jobs[-1]

    def is_current(self, job) -> bool:
        return bool(self.current_jobs) and self.current_jobs[-1] is job

    def lookup_active(self, job_id):
        if job_id == CURRENT_JOB:
            job = self._current_or_enoent()
            if job.state == State.INACTIVE:
                _fail(errno.ENOENT, f"job {job.id} is inactive")
            return job
        job = self.manager.active.get(job_id)
        if job is None:
            _fail(errno.ENOENT, f"job {job_id} is not active")
        return job

    def lookup_any(self, job_id):
        if job_id == CURRENT_JOB:
            return self._current_or_enoent()
        job = self.manager.active.get(job_id) or self.manager.inactive.get(job_id)
        if job is None:
            _fail(errno.ENOENT, f"unknown job {job_id}")
        return job

    def events_posted(self, job) -> int:
        """The job's bitmap of event names seen; an inactive job reloaded from its summary at
        restart has none in memory, so it is rebuilt from its stored eventlog once."""
        if not job.events_posted and job.state == State.INACTIVE:
            names = self.manager.events.names
            for event in self.manager.store.events(job.id):
                job.events_posted |= names.bit(event["name"])
        return job.events_posted

    # --- jobspec updates staged by a callback -----------------------------------------

    def check_jobspec_update(self, job, updates):
        """Refuse (EINVAL) updates that may not be applied to ``job`` now."""
        if job.readonly or job.state in (State.RUN, State.CLEANUP, State.INACTIVE):
            _fail(errno.EINVAL, "jobspec updates are refused once a job runs")
        if not isinstance(updates, dict) or not updates:
            _fail(errno.EINVAL, "jobspec updates must be a non-empty dict")
        for key in updates:
            if not isinstance(key, str) or key.split(".", 1)[0] not in JOBSPEC_UPDATE_ROOTS:
                _fail(errno.EINVAL, f"jobspec update key '{key}' is not under attributes, "
                                    "resources or tasks")
        try:
            jobspec_with_updates(job.jobspec, updates)
        except ValueError as exc:
            _fail(errno.EINVAL, f"jobspec update would make the jobspec invalid: {exc}")

    def stage_jobspec_update(self, job, updates: dict):
        self.staged_jobspec_updates.setdefault(job.id, {}).update(updates)

    def discard_jobspec_updates(self, job):
        self.staged_jobspec_updates.pop(job.id, None)

    def post_jobspec_updates(self, job) -> bool:
        updates = self.staged_jobspec_updates.pop(job.id, None)
        if updates is None:
            return True
        try:
            self.manager.events.post(job, "jobspec-update", updates)
        except Exception:
            log.exception("job %d: jobspec-update failed", job.id)
            return False
        return True

    # --- safety helpers ---------------------------------------------------------------

    def run_destructor(self, plugin, destructor, value):
        try:
            destructor(value)
        except Exception as exc:
            log.error("jobtap: %s: destructor raised %s: %s", plugin.display_name,
                      type(exc).__name__, exc, exc_info=exc)

    def handle_for(self, plugin):
        """The job manager's handle as ``plugin`` gets it: its log records carry the plugin's
        name and the callbacks it schedules run guarded (`stack.run_guarded`)."""
        logger = logging.getLogger(f"corral.jobtap.{plugin.display_name}")

        def runner(what, callback, *args):
            return stack.run_guarded(self, plugin, what, callback, *args)

        return self.manager.handle.derive(logger, runner)

    def register_service(self, plugin, topic, callback, arg, rolemask):
        """Serve ``topic`` with a plugin's ``callback(h, msg[, arg])``: an exception (or a
        coroutine that raises) answers the request with an error and is logged."""
        broker = self.manager.broker
        handle = plugin.get_flux()

        def respond_failure(msg, exc):
            if not msg.responded:
                code = exc.errno if isinstance(exc, OSError) and exc.errno else errno.EIO
                msg.respond_error(code, exc.strerror if isinstance(exc, OSError)
                                  and exc.strerror else f"{topic}: {exc}")

        def finished(msg, task):
            if not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                log.error("jobtap: %s: service %s raised %s: %s", plugin.display_name, topic,
                          type(exc).__name__, exc, exc_info=exc)
                respond_failure(msg, exc)

        def serve(msg):
            args = (handle, msg) if arg is None else (handle, msg, arg)
            try:
                result = stack.run_service(self, plugin, topic, callback, *args)
            except Exception as exc:
                log.error("jobtap: %s: service %s raised %s: %s", plugin.display_name, topic,
                          type(exc).__name__, exc, exc_info=exc)
                respond_failure(msg, exc)
                return
            if inspect.iscoroutine(result):
                task = handle.loop.create_task(result)
                task.add_done_callback(lambda done: finished(msg, done))

        try:
            broker.register(topic, serve, rolemask, owner=plugin)
        except RequestError as exc:
            _fail(errno.EEXIST, exc.strerror)
        plugin.services.append(topic)

    def job_destroyed(self, job):
        """Run every plugin's per-job aux destructors for a job leaving the active set."""
        aux, job.aux = job.aux, None
        for plugin, entries in (aux or {}).items():
            for value, destructor in entries.values():
                if destructor is not None:
                    self.run_destructor(plugin, destructor, value)
        job.subscribers = None

class _StoredJobArgs(dict):
    """The IN args of an inactive job whose jobspec and R are no longer in memory: they are
    read from the store only when a plugin asks for them, so that calling ``job.inactive-add``
    for every job of a large history at restart costs no store reads."""

    _LAZY = ("jobspec", "R")

    def __init__(self, manager, job):
        super().__init__(id=job.id, userid=job.userid, urgency=job.urgency,
                         state=int(job.state), priority=job.priority, t_submit=job.t_submit)
        self._manager = manager
        self._job = job
        self._loaded = False

    def _load(self):
        if not self._loaded:
            self._loaded = True
            jobspec, R = self._manager.stored_jobspec_and_R(self._job)
            super().__setitem__("jobspec", jobspec)
            if R is not None:
                super().__setitem__("R", R)

    def __missing__(self, key):
        if key in self._LAZY and not self._loaded:
            self._load()
            return self[key]
        raise KeyError(key)

    def __contains__(self, key):
        if key in self._LAZY:
            self._load()
        return super().__contains__(key)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def keys(self):
        self._load()
        return super().keys()

    def items(self):
        self._load()
        return super().items()

    def __iter__(self):
        self._load()
        return super().__iter__()


def _first_handler(plugin, topic):
    for handler in plugin.handlers:
        if fnmatch.fnmatchcase(topic, handler.glob):
            return handler
    return None


def _match(plugin, topic):
    handler = _first_handler(plugin, topic)
    return _entry(plugin, handler) if handler is not None else None


def _entry(plugin, handler):
    return (plugin, handler.callback, handler.arg, handler.has_arg)
