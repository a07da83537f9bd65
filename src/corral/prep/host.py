"""The PrEp plugin host: one chain of plugins per process, for the roles that process plays.

A corral process plays the controller (slurmctld), the node agents (slurmd), or both on one
machine; `PrepHost` loads ``[prep] plugins`` once for those roles, as each Slurm daemon loads
its own (``prep_g_init``): every plugin is found, checked and initialised in order, and only
the controller registers the `Callbacks` its asynchronous hooks report through. It then asks
every plugin ``prep_p_required`` for each call type and keeps the OR. Any failure unloads what
was loaded and raises one `PrepError`, and the process must not start.

The hooks (``prep_g_*``) are methods: ``prolog_slurmctld`` / ``epilog_slurmctld`` for the
controller's event loop, ``prolog`` / ``epilog`` for node agents' worker threads (safe to run
for several jobs at once; with the ``Serial`` flag one lock per node serialises all of them).
This module must not decide what a hook's result does to a job or a node.
"""

import logging
import threading
import time
from collections.abc import Callable

from ..timings import CallTimes
from . import _set_parameters
from .callbacks import Callbacks
from .constants import SUCCESS, CallType
from .driver import HookResult, call_controller_hooks, call_node_hooks
from .loader import LoadedPlugin, PrepError, load
from .script import ScriptPlugin

log = logging.getLogger("corral.prep")

#: ``deliver(kind, rc, job_id, timed_out)``: ``kind`` is ``CallType.PROLOG_SLURMCTLD`` or
#: ``CallType.EPILOG_SLURMCTLD``. Called from any thread; it must hand the report to the
#: controller's event loop (``loop.call_soon_threadsafe``) and return.
Deliver = Callable[[CallType, int, int, bool], None]


class PrepHost:
    """The loaded PrEp plugins of this process and the ``prep_g_*`` calls over them."""

    def __init__(self, settings, *, controller: bool, node: bool, deliver: Deliver | None = None,
                 clock=time.perf_counter):
        """``clock`` times the controller hooks (the thread's CPU time on a virtual clock, as
        jobtap callbacks: see `corral.jobmanager.jobtap.JobtapHost`)."""
        if controller and deliver is None:
            raise ValueError("the controller's PrEp host needs a deliver function for callbacks")
        self.settings = settings
        self.clock = clock
        self.controller = controller
        self.node = node
        self._deliver_to_controller = deliver
        self._plugins: list[LoadedPlugin] = []
        self._required = dict.fromkeys(CallType, False)
        self._initialised = False
        self._closed = False
        self._serial_locks: dict[str, threading.Lock] = {}
        self._serial_locks_guard = threading.Lock()
        # Controller hooks' time and failures by (plugin, hook), and the asynchronous
        # results by (hook, failed), both counted on the event loop for the metrics endpoint.
        self.hook_times = CallTimes()
        self.async_results: dict[tuple[str, bool], int] = {}

    # --- lifecycle (prep_g_init, prep_g_fini) ---------------------------------------------

    def init(self) -> None:
        """Load and initialise every configured plugin; raises `PrepError` on the first
        failure, after unloading the plugins already loaded."""
        if self._initialised:
            return
        _set_parameters(self.settings.parameters)
        callbacks = Callbacks(self._deliver) if self.controller else None
        for name in self.settings.plugins:
            try:
                plugin = load(name, self.settings, self.controller, self.node)
                self._call_init(plugin)
                self._plugins.append(plugin)
                if callbacks is not None:
                    self._call_register_callbacks(plugin, callbacks)
            except PrepError:
                self.fini()
                raise
        self._warn_unused_scripts()
        for plugin in self._plugins:
            plugin.required = {call_type: self._ask_required(plugin, call_type)
                               for call_type in CallType}
        for call_type in CallType:
            self._required[call_type] = any(plugin.required[call_type]
                                            for plugin in self._plugins)
        self._initialised = True

    def fini(self) -> None:
        """Unload every plugin (``fini``, in order); callbacks arriving later are dropped."""
        self._closed = True
        plugins, self._plugins = self._plugins, []
        for plugin in plugins:
            try:
                plugin.target.fini()
            except Exception as exc:
                log.error("prep: %s: fini raised %s: %s", plugin.name, type(exc).__name__, exc,
                          exc_info=exc)

    # --- what was loaded ------------------------------------------------------------------

    @property
    def plugins(self) -> tuple[LoadedPlugin, ...]:
        """The loaded plugins, in order."""
        return tuple(self._plugins)

    def required(self, call_type: CallType) -> bool:
        """Whether any plugin needs ``call_type`` here (``prep_g_required``). Only
        ``PROLOG_SLURMCTLD`` gates anything: without it the controller prolog is skipped."""
        return self._required[call_type]

    def describe(self) -> list[dict]:
        """The plugins in order, for ``corral prep list``."""
        return [
            {
                "name": plugin.name,
                "plugin_name": plugin.plugin_name,
                "plugin_type": plugin.plugin_type,
                "plugin_version": plugin.plugin_version,
                "required": {call_type.name: plugin.required.get(call_type, False)
                             for call_type in CallType},
            }
            for plugin in self._plugins
        ]

    # --- controller hooks (event loop) ----------------------------------------------------

    def prolog_slurmctld(self, job) -> HookResult:
        """Run the controller prolog chain for `JobRecord` ``job``; nothing runs (and the
        result is ``(SUCCESS, 0)``) unless some plugin requires it."""
        if not self._required[CallType.PROLOG_SLURMCTLD]:
            return HookResult(SUCCESS, 0)
        return call_controller_hooks(self._plugins, "prep_p_prolog_slurmctld", job,
                                     self.settings.slow_hook_threshold, self.hook_times,
                                     self.clock)

    def epilog_slurmctld(self, job) -> HookResult:
        """Run the controller epilog chain for `JobRecord` ``job`` (never gated, as Slurm)."""
        return call_controller_hooks(self._plugins, "prep_p_epilog_slurmctld", job,
                                     self.settings.slow_hook_threshold, self.hook_times,
                                     self.clock)

    def flush_job(self, job_id: int) -> None:
        """Kill the controller scripts ``prep/script`` runs for ``job_id`` (the job was
        cancelled); their callbacks still come, reporting a kill that is not a failure."""
        for plugin in self._plugins:
            if isinstance(plugin.target, ScriptPlugin):
                plugin.target.flush_job(job_id)

    def flush_node_job(self, job_id: int) -> None:
        """Kill the node scripts ``prep/script`` runs for ``job_id`` (the job ended while its
        prolog runs)."""
        for plugin in self._plugins:
            if isinstance(plugin.target, ScriptPlugin):
                plugin.target.flush_node_job(job_id)

    # --- node hooks (worker threads) ------------------------------------------------------

    def prolog(self, job_env, cred, times: list | None = None) -> int:
        """Run the node prolog chain; 0, or the first failing plugin's status (each call's
        time into ``times``: `call_node_hooks`)."""
        return self._node_hooks("prep_p_prolog", job_env, cred, times)

    def epilog(self, job_env, cred, times: list | None = None) -> int:
        """Run the node epilog chain; 0, or the first failing plugin's status."""
        return self._node_hooks("prep_p_epilog", job_env, cred, times)

    def _node_hooks(self, hook: str, job_env, cred, times) -> int:
        if "Serial" not in self.settings.flags:
            return call_node_hooks(self._plugins, hook, job_env, cred, times)
        with self._serial_lock(job_env.node_name):
            return call_node_hooks(self._plugins, hook, job_env, cred, times)

    def _serial_lock(self, node_name: str) -> threading.Lock:
        with self._serial_locks_guard:
            return self._serial_locks.setdefault(node_name, threading.Lock())

    # --- helpers --------------------------------------------------------------------------

    def _warn_unused_scripts(self) -> None:
        """Scripts configured without prep/script never run (Slurm is silent about it)."""
        settings = self.settings
        if any(isinstance(plugin.target, ScriptPlugin) for plugin in self._plugins):
            return
        if settings.prolog or settings.epilog or settings.prolog_slurmctld or \
                settings.epilog_slurmctld:
            log.warning("prep: scripts are configured but prep/script is not in [prep] plugins:"
                        " they will not run")

    def _deliver(self, kind: CallType, rc: int, job_id: int, timed_out: bool) -> None:
        if self._closed:
            log.debug("prep: %s callback for job %d after shutdown dropped", kind.name.lower(),
                      job_id)
            return
        self._deliver_to_controller(kind, rc, job_id, timed_out)

    @staticmethod
    def _call_init(plugin: LoadedPlugin) -> None:
        # The PrepError is reported by whoever called init (corral start, corral agent,
        # corral sim) in one line; the log keeps the plugin's traceback, for -v (INFO).
        try:
            rc = plugin.target.init()
        except Exception as exc:
            log.info("prep: %s: init raised %s: %s", plugin.name, type(exc).__name__, exc,
                     exc_info=exc)
            raise PrepError(plugin.name, f"init failed: {exc or type(exc).__name__}") from exc
        if rc is not None and rc != SUCCESS:
            raise PrepError(plugin.name, f"init failed (returned {rc!r})")

    @staticmethod
    def _call_register_callbacks(plugin: LoadedPlugin, callbacks: Callbacks) -> None:
        try:
            plugin.target.prep_p_register_callbacks(callbacks)
        except Exception as exc:
            log.info("prep: %s: prep_p_register_callbacks raised %s: %s", plugin.name,
                     type(exc).__name__, exc, exc_info=exc)
            raise PrepError(plugin.name, f"prep_p_register_callbacks failed: "
                                         f"{exc or type(exc).__name__}") from exc

    @staticmethod
    def _ask_required(plugin: LoadedPlugin, call_type: CallType) -> bool:
        try:
            return bool(plugin.target.prep_p_required(call_type))
        except Exception as exc:
            log.error("prep: %s: prep_p_required(%s) raised %s: %s", plugin.name,
                      call_type.name, type(exc).__name__, exc, exc_info=exc)
            return False

