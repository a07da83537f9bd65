"""The plugin handle ``p`` and the args object every jobtap callback receives.

`Plugin` is flux_plugin_t plus the flux_jobtap_* calls, one method each, with flux-core's
errnos raised as `OSError`.  `Args` is flux_plugin_arg_t: an IN dict shared read-only and an
OUT dict that the whole plugin stack writes into (shallow merge, so the last writer wins).
Plugin authors reach both through `corral.jobtap`; the host (`jobmanager.jobtap`) owns
loading and dispatch, and `Plugin` reaches the job manager only through it.
"""

import errno
import os

from ..broker.handle import Handle
from ..broker.roles import ROLE_OWNER
from ..states import Result, State
from . import requeue
from .view import JobView

CURRENT_JOB = 2**64 - 1
PRIORITY_MIN = 0
PRIORITY_MAX = 2**32 - 1
PRIORITY_UNAVAIL = -2
URGENCY_HOLD = 0
URGENCY_DEFAULT = 16
URGENCY_EXPEDITE = 31

_VALID_FLAGS = ("alloc-bypass", "debug", "immutable")
_NOTE_LIMIT = 1023


def _fail(errnum: int, text: str | None = None):
    raise OSError(errnum, text or os.strerror(errnum))


class Args:
    """flux_plugin_arg_t: IN values for reading, OUT values for answering.

    For job callbacks the IN dict is built on first use (``source`` is ``(host, job,
    extra)``): many callbacks never read it, and building it for every topic of every job was
    a large share of what a loaded plugin costs.
    """

    __slots__ = ("_in", "_source", "out")

    def __init__(self, in_: dict | None = None, out: dict | None = None, source=None):
        self._in = in_
        self._source = source
        self.out = {} if out is None else out

    @property
    def in_(self) -> dict:
        in_ = self._in
        if in_ is None:
            host, job, extra = self._source
            in_ = self._in = host.job_args(job, **extra)
        return in_

    def __getitem__(self, key):
        return self.in_[key]

    def __contains__(self, key) -> bool:
        return key in self.in_

    def get(self, key, default=None):
        return self.in_.get(key, default)

    def pack(self, **values):
        """Shallow-merge ``values`` into OUT (later plugins overwrite earlier keys)."""
        self.out.update(values)

    def pack_out(self, mapping: dict):
        self.out.update(mapping)

    def __repr__(self):
        return f"Args(in_={self.in_!r}, out={self.out!r})"


class Handler:
    __slots__ = ("glob", "callback", "arg", "has_arg")

    def __init__(self, glob, callback, arg, has_arg):
        self.glob = glob
        self.callback = callback
        self.arg = arg
        self.has_arg = has_arg


def reject_job_default(plugin) -> str:
    """What `Plugin.reject_job` without a message tells the submitter (Flux's text)."""
    return f"rejected by job-manager plugin '{plugin.display_name}'"


class Plugin:
    """A loaded jobtap plugin, as its callbacks see it (``p``)."""

    def __init__(self, host, path: str, conf: dict | None, builtin: bool):
        self._host = host
        self.path = path
        self.conf = conf if conf is not None else {}
        self.builtin = builtin
        self._name = path
        self.display_name = path
        self.handlers: list[Handler] = []
        self._aux: dict = {}
        self.services: list[str] = []
        self.load_sort_order = "none"
        self._handle = None

    def __repr__(self):
        return f"<jobtap plugin {self.display_name}>"

    # --- flux_plugin_t ------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    def set_name(self, name: str):
        if not isinstance(name, str) or not name:
            _fail(errno.EINVAL, "plugin name must be a non-empty string")
        self._name = name

    def add_handler(self, topic_glob: str, callback, arg=None):
        """Call ``callback(p, topic, args[, arg])`` for topics matching ``topic_glob``; ``arg``
        is passed only when one is given."""
        if not isinstance(topic_glob, str) or not callable(callback):
            _fail(errno.EINVAL, "add_handler needs a topic glob and a callable")
        self.handlers.append(Handler(topic_glob, callback, arg, arg is not None))
        self._host.invalidate_index()

    def aux_set(self, name: str | None, value, destructor=None):
        """Keep ``value`` with the plugin; ``destructor(value)`` runs when it is replaced,
        deleted (``value=None``) or the plugin is removed.  ``name=None`` keeps it anonymously."""
        key = ("anonymous", id(value)) if name is None else name
        old = self._aux.pop(key, None)
        if old is not None and old[1] is not None:
            self._host.run_destructor(self, old[1], old[0])
        if value is not None:
            self._aux[key] = (value, destructor)

    def aux_get(self, name: str):
        entry = self._aux.get(name)
        return entry[0] if entry is not None else None

    def destroy_aux(self):
        aux, self._aux = self._aux, {}
        for value, destructor in aux.values():
            if destructor is not None:
                self._host.run_destructor(self, destructor, value)

    # --- flux_jobtap_* ------------------------------------------------------------------

    def get_flux(self) -> Handle:
        """The job manager's handle, with this plugin's name on its log records and its
        callbacks run so that a failure is logged instead of escaping."""
        if self._handle is None:
            self._handle = self._host.handle_for(self)
        return self._handle

    def close_handle(self):
        if self._handle is not None:
            self._handle.close()

    def service_register(self, method: str, callback, arg=None, rolemask: int = ROLE_OWNER):
        """Serve ``job-manager.<name>.<method>`` with ``callback(h, msg[, arg])``, to the
        owner only unless ``rolemask`` says otherwise."""
        name = self._name
        if not name or "/" in name:
            _fail(errno.EINVAL, f"cannot register service '{method}': the plugin has no name "
                                "yet (call set_name() first)")
        if not isinstance(method, str) or not method or not callable(callback):
            _fail(errno.EINVAL, "service_register needs a method name and a callable")
        topic = f"job-manager.{name.removeprefix('.')}.{method}"
        self._host.register_service(self, topic, callback, arg, rolemask or ROLE_OWNER)

    def reprioritize_all(self):
        self._host.manager.prioritize.reprioritize_all()

    def reprioritize_job(self, job_id: int, priority: int):
        if type(priority) is not int or not PRIORITY_MIN <= priority <= PRIORITY_MAX:
            _fail(errno.EINVAL, f"priority {priority!r} is not in [0:{PRIORITY_MAX}]")
        job = self._host.lookup_active(job_id)
        self._host.manager.prioritize.reprioritize_job(job, priority)

    def priority_unavail(self, args: Args) -> int:
        args.out["priority"] = PRIORITY_UNAVAIL
        return 0

    def error(self, args: Args, fmt: str | None = None, *fmtargs) -> int:
        if fmt:
            text = fmt % fmtargs if fmtargs else fmt
            if text:
                args.out["errmsg"] = text
        return -1

    def reject_job(self, args: Args, fmt: str | None = None, *fmtargs) -> int:
        if fmt is None:
            return self.error(args, "%s", reject_job_default(self))
        return self.error(args, fmt, *fmtargs)

    def raise_exception(self, job_id: int, type_: str, severity: int, fmt: str, *fmtargs):
        if not isinstance(type_, str) or not type_ or not isinstance(fmt, str):
            _fail(errno.EINVAL, "raise_exception needs an exception type and a note")
        if type(severity) is not int:
            _fail(errno.EINVAL, "exception severity must be an integer")
        job = self._host.lookup_active(job_id)
        if severity == 0 and job.state == State.NEW:
            _fail(errno.EINVAL, "a fatal exception cannot be raised on a job in NEW state")
        note = fmt % fmtargs if fmtargs else fmt
        if len(note) > _NOTE_LIMIT:
            note = note[: _NOTE_LIMIT - 1] + "+"
        manager = self._host.manager
        manager.raise_exception(job, type_, severity, note, manager.owner_uid)

    def event_post(self, job_id: int, name: str, context: dict | None = None):
        if not isinstance(name, str) or not name or (
            context is not None and not isinstance(context, dict)
        ):
            _fail(errno.EINVAL, "event_post needs an event name and an optional dict context")
        job = self._host.lookup_active(job_id)
        self._host.manager.events.post(job, name, context)

    def job_view(self, job_id: int) -> JobView:
        """corral's extension: a read-only `JobView` of an active job (ENOENT otherwise),
        for what a plugin needs beyond its callback's args (the ``.prep`` builtin: what
        Slurm's job record holds)."""
        return JobView(self._host.lookup_active(job_id), self._host.manager.store)

    def job_requeue(self, job_id: int, reason: str, *, hold: bool = False,
                    delay: float = 0.0, launch_failures: int | None = None):
        """corral's extension: requeue the active job when its cleanup is done (the
        ``requeue`` event, `corral.jobmanager.requeue`), held if ``hold``, not allocated
        again for ``delay`` seconds; ``launch_failures`` is the count ``[prep]
        max-batch-requeue`` is checked against.  The run itself is not ended: the caller
        raises the exception that ends it, if any."""
        if not isinstance(reason, str) or not reason:
            _fail(errno.EINVAL, "job_requeue needs a reason")
        requeue.request(self._host.manager, self._host.lookup_active(job_id), reason,
                        hold=hold, delay=delay, launch_failures=launch_failures)

    def job_aux_set(self, job_id: int, name: str | None, value, destructor=None):
        """Keep ``value`` with one job, for this plugin only; ``destructor(value)`` runs when
        it is replaced, deleted (``value=None``), when the job becomes inactive, or when the
        plugin is removed.  ``name=None`` keeps it anonymously (see `job_aux_delete_value`)."""
        job = self._host.lookup_any(job_id)
        if job.aux is None:
            if value is None:
                return  # nothing to delete (a job rebuilt at restart starts without aux)
            if job.state == State.INACTIVE:
                _fail(errno.ENOENT, f"job {job.id} is inactive")
            job.aux = {}
        store = job.aux.setdefault(self, {})
        key = ("anonymous", id(value)) if name is None else name
        old = store.pop(key, None)
        if old is not None and old[1] is not None:
            self._host.run_destructor(self, old[1], old[0])
        if value is not None:
            store[key] = (value, destructor)

    def job_aux_get(self, job_id: int, name: str):
        job = self._host.lookup_any(job_id)
        entry = (job.aux or {}).get(self, {}).get(name)
        return entry[0] if entry is not None else None

    def job_aux_delete_value(self, job_id: int, value):
        job = self._host.lookup_any(job_id)
        store = (job.aux or {}).get(self)
        for key, (stored, destructor) in list((store or {}).items()):
            if stored is value:
                del store[key]
                if destructor is not None:
                    self._host.run_destructor(self, destructor, stored)

    def job_set_flag(self, job_id: int, flag: str):
        job = self._host.lookup_active(job_id)
        if flag not in _VALID_FLAGS:
            _fail(errno.EINVAL, f"invalid job flag '{flag}'")
        self._host.manager.events.post(job, "set-flags", {"flags": [flag]})

    def dependency_add(self, job_id: int, description: str):
        """Add ``description`` to the job's outstanding dependencies (NEW or DEPEND only).

        Re-adding an outstanding description succeeds without an event (restart idempotency);
        re-adding one that was already removed is refused with EEXIST (RFC 26's grudge set)."""
        job = self._dependency_job(job_id, description)
        events = self._host.manager.events
        if description in _outstanding_dependencies(job):
            return
        if job.dependencies_ever and description in job.dependencies_ever:
            _fail(errno.EEXIST, f"dependency '{description}' was already satisfied")
        events.post(job, "dependency-add", {"description": description})

    def dependency_remove(self, job_id: int, description: str):
        job = self._dependency_job(job_id, description)
        if description not in _outstanding_dependencies(job):
            _fail(errno.ENOENT, f"dependency '{description}' is not outstanding")
        self._host.manager.events.post(job, "dependency-remove", {"description": description})

    def _dependency_job(self, job_id, description):
        if not isinstance(description, str) or not description:
            _fail(errno.EINVAL, "dependency description must be a non-empty string")
        job = self._host.lookup_active(job_id)
        if job.state not in (State.NEW, State.DEPEND):
            _fail(errno.EINVAL, "dependencies can only change in NEW or DEPEND state")
        return job

    def prolog_start(self, description: str):
        job = self._host.current_job()
        if not isinstance(description, str) or not description:
            _fail(errno.EINVAL, "prolog_start needs a description")
        if job.start_pending or job.state == State.CLEANUP:
            _fail(errno.EINVAL, "a prolog can only start before the job's tasks are started")
        self._host.manager.events.post(job, "prolog-start", {"description": description})

    def prolog_finish(self, job_id: int, description: str, status: int = 0):
        if not isinstance(description, str) or not description:
            _fail(errno.EINVAL, "prolog_finish needs a description")
        job = self._host.lookup_active(job_id)
        if job.start_pending:
            _fail(errno.EINVAL, "the job's start request was already sent")
        self._host.manager.events.post(
            job, "prolog-finish", {"description": description, "status": status}
        )

    def epilog_start(self, description: str):
        job = self._host.current_job()
        if not isinstance(description, str) or not description:
            _fail(errno.EINVAL, "epilog_start needs a description")
        if job.state != State.CLEANUP:
            _fail(errno.EINVAL, "an epilog can only start in CLEANUP state")
        self._host.manager.events.post(job, "epilog-start", {"description": description})

    def epilog_finish(self, job_id: int, description: str, status: int = 0):
        if not isinstance(description, str) or not description:
            _fail(errno.EINVAL, "epilog_finish needs a description")
        job = self._host.lookup_active(job_id)
        if job.state != State.CLEANUP:
            _fail(errno.EINVAL, "an epilog can only finish in CLEANUP state")
        self._host.manager.events.post(
            job, "epilog-finish", {"description": description, "status": status}
        )

    def job_subscribe(self, job_id: int):
        job = self._host.lookup_active(job_id)
        if job.subscribers is None:
            job.subscribers = []
        if self not in job.subscribers:
            job.subscribers.append(self)

    def job_unsubscribe(self, job_id: int):
        try:
            job = self._host.lookup_active(job_id)
        except OSError:
            return
        if job.subscribers and self in job.subscribers:
            job.subscribers.remove(self)

    def job_lookup(self, job_id: int) -> dict:
        job = self._host.lookup_any(job_id)
        return self._host.job_args(job)

    def get_job_result(self, job_id: int) -> Result:
        job = self._host.lookup_any(job_id)
        if job.state not in (State.CLEANUP, State.INACTIVE):
            _fail(errno.EINVAL, "a job has no result before CLEANUP")
        result = job.compute_result() if job.end_event is not None else job.result
        if result is None:
            _fail(errno.EINVAL, f"job {job.id} has no end event")
        return result

    def job_event_posted(self, job_id: int, name: str) -> bool:
        if not isinstance(name, str) or not name:
            _fail(errno.EINVAL, "job_event_posted needs an event name")
        job = self._host.lookup_any(job_id)
        posted = self._host.events_posted(job)
        return bool(posted & self._host.manager.events.names.known_bit(name))

    def jobspec_update(self, updates: dict):
        """Stage jobspec updates for the current job, posted as one ``jobspec-update`` when
        this callback returns."""
        job = self._host.current_job()
        self._host.check_jobspec_update(job, updates)
        self._host.stage_jobspec_update(job, updates)

    def jobspec_update_id(self, job_id: int, updates: dict):
        """Post a ``jobspec-update`` now, for a job that is not the current job (EINVAL for
        every refusal, an unknown job included, as in flux-core)."""
        try:
            job = self._host.lookup_active(job_id)
        except OSError as exc:
            _fail(errno.EINVAL, exc.strerror)
        if self._host.is_current(job):
            _fail(errno.EINVAL, "use jobspec_update() for the current job")
        self._host.check_jobspec_update(job, updates)
        self._host.manager.events.post(job, "jobspec-update", dict(updates))

    def call(self, job_id: int, topic: str, args: dict):
        """Call a custom topic on the whole stack: returns ``(rc, out)``."""
        if not isinstance(topic, str) or topic.startswith("job.") or not isinstance(args, dict):
            _fail(errno.EINVAL, "call() needs a topic outside 'job.*' and a dict of args")
        job = self._host.lookup_any(job_id)
        call_args = Args(dict(args))
        rc = self._host.stack_call(job, topic, call_args)
        return rc, call_args.out

    def set_load_sort_order(self, mode: str):
        if mode not in ("none", "state", "-state"):
            _fail(errno.EINVAL, f"invalid load sort order '{mode}'")
        self.load_sort_order = mode


def _outstanding_dependencies(job) -> set:
    """The job's dependencies as they will be once its queued events are processed."""
    outstanding = set(job.dependencies or ())
    for event, _flags in job.event_queue:
        name = event["name"]
        if name == "dependency-add":
            outstanding.add(event["context"]["description"])
        elif name == "dependency-remove":
            outstanding.discard(event["context"]["description"])
    return outstanding
