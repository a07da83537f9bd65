"""The controller's parts, built in one place and in order, for every kind of controller.

`corral.instance` (a served controller), `corral.sim.machine` (a simulation) and through it
the plugin test kit build the same parts here, the same way: store, broker, resource pool,
scheduler, job manager, exec, resource service and, with PrEp plugins, the ``.prep`` bridge.
Each part is given its collaborators and callbacks when it is built; none is connected to
another afterwards.  The job manager builds the parts that answer it (store, scheduler,
exec) from the factories below, handing each what receives its answers, so a cycle between
two parts is closed inside one constructor instead of by assignment.

What differs between controllers is a parameter: how exec reaches the nodes
(``connect_nodes``: agents in this process, agent processes, remote agents, simulated
nodes), which PrEp host runs (none in a simulation without PrEp plugins), where agents'
messages come from (``uri`` in their tasks' environment), whether time limits end jobs,
whether the store is a simulation's throw-away one.
Serving the socket, the purge timer and the instance's own services stay with the caller.
"""

import os
import time

from . import config as config_module
from .broker.server import Broker
from .broker.turns import Limits
from .config import type_name
from .exec.service import Exec
from .jobmanager import JobManager
from .jobmanager.plugins import prep_bridge
from .prep.bridge import PrepBridge
from .resource import ResourceService
from .sched import QueuePolicies, ResourcePool, Scheduler
from .store import Store


class Assembly:
    def __init__(self, loop, config, *, specs, state_dir, output_dir, owner_uid, uri,
                 credential_key, connect_nodes, on_store_failure, prep_host=None,
                 policy=None, tasks_outlive=False, enforce_time_limits=True,
                 throwaway_store=False, callback_clock=time.perf_counter):
        """``specs``: the nodes (`NodeSpec`); the store is ``corral.db`` in ``state_dir``;
        ``connect_nodes(assembly) -> [channel per rank]`` reaches the nodes, called once
        the scheduler exists and before exec does (agents hand what they say to
        `to_exec`, and a lost node to `node_failed`); ``on_store_failure(exc)``: a commit
        can never succeed; ``prep_host``: the initialised PrEp host, or None for no
        ``.prep`` builtin; ``policy`` overrides every queue's ``[sched] policy``;
        ``throwaway_store``: a simulation's store (see `Store`); ``callback_clock``: what
        plugin callbacks are timed with (see `JobtapHost`)."""
        self.loop = loop
        self.config = config
        self.state_dir = state_dir
        self.specs = specs
        self.credential_key = credential_key
        self._connect_nodes = connect_nodes
        self._on_store_failure = on_store_failure
        self._policy = policy
        self._output_dir = output_dir
        self._uri = uri
        self._tasks_outlive = tasks_outlive
        self._enforce_time_limits = enforce_time_limits
        self._throwaway_store = throwaway_store
        self.broker = Broker(loop, owner_uid, config_module.allow_guest_user(config),
                             Limits.from_config(config))
        self.pool = ResourcePool(specs)
        self.manager = JobManager(
            loop, self.broker, config, owner_uid, output_dir, store=self._store,
            scheduler=self._scheduler, exec_service=self._exec,
            jobtap_path=_jobtap_path(config),
            slow_callback_threshold=config.get_duration(
                "job-manager.slow-callback-threshold", 0.1),
            callback_clock=callback_clock)
        self.resources = ResourceService(self.pool, self.scheduler, self.store)
        self.prep = None
        if prep_host is not None:
            self.prep = PrepBridge(prep_host.settings, prep_host, credential_key, output_dir,
                                   self.exec, self.resources)
            self.manager.jobtap.register_builtin(".prep", prep_bridge.plugin_init, self.prep)

    # --- the factories the job manager calls, in this order ---------------------------

    def _store(self, on_committed):
        self.store = Store(os.path.join(self.state_dir, "corral.db"), self.loop,
                           on_committed=on_committed, on_failure=self._on_store_failure,
                           throwaway=self._throwaway_store)
        return self.store

    def _scheduler(self, answers):
        policies = QueuePolicies.from_config(self.config, self._policy)
        self.scheduler = Scheduler(self.loop, self.pool, answers, policies)
        return self.scheduler

    def _exec(self, answers):
        channels = self._connect_nodes(self)
        self.exec = Exec(self.loop, answers, channels, self._output_dir, self._uri,
                         self.credential_key, config_module.kill_timeout(self.config),
                         self._tasks_outlive, self._enforce_time_limits)
        return self.exec

    # --- what the nodes say -----------------------------------------------------------

    def to_exec(self, msg: dict):
        """An agent's answer, for exec."""
        self.exec.on_message(msg)

    def node_failed(self, rank: int, note: str):
        """Rank ``rank``'s node is gone with its tasks."""
        self.exec.node_failed(rank, note)

    # --- taking up the jobs -------------------------------------------------------------

    def take_up_jobs(self, plugins=()):
        """Load the builtin plugins, reload the stored jobs, load the plugins of ``[job-manager]
        plugins`` and then ``plugins`` (paths or modules, or ``(path, conf)``), and resume
        the jobs: the order a restart needs (plugins see the jobs' restart callbacks).
        OSError: a plugin refused to load (or a builtin its configuration);
        `ConfigError`: ``[job-manager] plugins`` is wrong."""
        manager = self.manager
        manager.load_builtins()
        jobs = manager.restart()
        if self.prep is not None:
            self.prep.restarted([job.id for job in jobs])
        self._load_config_plugins()
        for plugin in plugins:
            path, conf = (plugin, None) if isinstance(plugin, str) else plugin
            manager.jobtap.load(path, conf)
        manager.resume(jobs)
        if self.prep is not None:
            self.prep.resume()

    def _load_config_plugins(self):
        entries = self.config.get("job-manager.plugins")
        if entries is None:
            return
        if not isinstance(entries, list):
            raise self.config.error("job-manager.plugins", "must be an array of tables")
        host = self.manager.jobtap
        for index, entry in enumerate(entries):
            key = f"job-manager.plugins[{index}]"
            if not isinstance(entry, dict):
                raise self.config.error(key, "must be a table with load, remove or conf")
            for name in ("load", "remove"):
                if name in entry and not isinstance(entry[name], str):
                    raise self.config.error(
                        f"{key}.{name}", f"expected string, got {type_name(entry[name])}")
            if "conf" in entry and not isinstance(entry["conf"], dict):
                raise self.config.error(f"{key}.conf", "must be a table")
            try:
                if "remove" in entry:
                    host.remove(entry["remove"])
                if "load" in entry:
                    host.load(entry["load"], entry.get("conf"))
            except OSError as exc:
                raise self.config.error(key, exc.strerror or str(exc)) from None

    def register_services(self):
        """The job manager's and the resource service's services on the broker."""
        self.manager.register_services()
        self.resources.register_services(self.broker)


def _jobtap_path(config) -> list[str]:
    """Where jobtap plugins named without a path are looked for: ``[job-manager]
    plugin-path``, then ``CORRAL_JOBTAP_PATH``."""
    path = [entry for entry in os.environ.get("CORRAL_JOBTAP_PATH", "").split(":") if entry]
    plugin_path = config.get_str("job-manager.plugin-path")
    if plugin_path:
        path = [entry for entry in plugin_path.split(":") if entry] + path
    return path
