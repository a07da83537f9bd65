"""The controller's parts, assembled for a simulation: store, broker, scheduler, job manager
with its builtin and configured jobtap plugins, and exec with every job's execution simulated.

The parts are the instance's own, built in the same order as `corral.instance` builds them,
with the resource service (plugins ask it for the machine's size), less what a simulation has
no use for: no socket is served (requests go through the broker's in-process `rpc`), no node
agent runs (`nodes.SimulatedNode` answers the PrEp node hooks), no purge timer is started.
PrEp plugins load only when named (``--prep`` or ``[prep] plugins``): an instance's default,
``prep/script``, runs scripts, and a simulation starts no process.  The store is a real SQLite
store in a temporary directory (on tmpfs when the machine has one), removed at the end unless
it was given (the plugin test kit restarts on it); its commits run at once on the loop's
thread (see `clock`), and it is a throw-away store: committed every so many batches and at
`close`, which is all a restart on it needs.
"""

import dataclasses
import os
import shutil
import tempfile

from ..broker.server import Broker
from ..exec.channel import LocalChannel
from ..exec.service import Exec
from ..instance import Instance
from ..jobmanager import JobManager
from ..jobmanager.plugins import prep_bridge
from ..prep import config as prep_config
from ..prep.bridge import PrepBridge, deliver_to_loop
from ..prep.cred import CredentialKey
from ..prep.host import PrepHost
from ..prep.loader import PrepError
from ..resource import ResourceService
from ..sched import NodeSpec, QueuePolicies, ResourcePool, Scheduler
from ..store import Store
from .nodes import SimulatedNode


class SimulationError(Exception):
    """The simulation cannot be set up; ``str()`` says why in one line."""


class Machine:
    def __init__(self, loop, config, nodes: int, cores_per_node: int, policy: str | None,
                 jobtap=(), kill_at_limit=False, prep=(), specs=None, state_dir=None):
        """``prep`` names PrEp plugins (else ``[prep] plugins``); ``specs`` (NodeSpecs)
        replace ``nodes`` × ``cores_per_node``; a ``state_dir`` given is kept at `close` and
        its store's jobs are taken up as at a restart."""
        self.loop = loop
        self.config = config
        self.prep = None
        self.prep_host = self._prep_host(config, prep)  # first: it may refuse the plugins
        self.owns_state_dir = state_dir is None
        if state_dir is None:
            tmpfs = ("/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)
                     else None)
            state_dir = tempfile.mkdtemp(prefix="corral-sim-", dir=tmpfs)
        self.state_dir = state_dir
        self.owner_uid = os.geteuid()
        self.failure = None
        self.store = Store(os.path.join(self.state_dir, "corral.db"), loop, throwaway=True)
        self.store.on_failure = self._store_failed
        self.broker = Broker(loop, self.owner_uid)
        if specs is None:
            cores = tuple(range(cores_per_node))
            specs = [NodeSpec(f"node{rank}", cores) for rank in range(nodes)]
        self.pool = ResourcePool(specs)
        self.scheduler = Scheduler(loop, self.pool, None,
                                   QueuePolicies.from_config(config, policy))
        output_dir = os.path.join(self.state_dir, "output")
        self.manager = JobManager(loop, self.broker, self.store, self.scheduler, config,
                                  self.owner_uid, output_dir)
        key = CredentialKey()
        to_exec = LocalChannel(loop, lambda msg: self.exec.on_message(msg))
        channels = [LocalChannel(loop, SimulatedNode(rank, spec.name, self.prep_host, key,
                                                     to_exec.send).handle)
                    for rank, spec in enumerate(specs)]
        self.exec = Exec(loop, None, channels, output_dir, "", key)
        self.exec.enforce_time_limits = kill_at_limit
        self.resources = ResourceService(self.pool, self.scheduler, self.store)
        self.manager.attach_exec(self.exec)
        self.exec.respond = self.manager.start
        if self.prep_host is not None:
            self.prep = PrepBridge(self.prep_host.settings, self.prep_host, key, output_dir,
                                   self.manager, self.exec, self.resources)
            self.manager.jobtap.register_builtin(".prep", prep_bridge.plugin_init, self.prep)
        try:
            self.manager.load_builtins()
            jobs = self.manager.restart()
            if self.prep is not None:
                self.prep.restarted(jobs)
            # The instance's own reading of [job-manager] plugins, then the command's.
            Instance._load_config_plugins(self)
            for plugin in jobtap:  # a path or module, or (path, conf)
                path, conf = (plugin, None) if isinstance(plugin, str) else plugin
                self.manager.jobtap.load(path, conf)
            self.manager.resume(jobs)
            if self.prep is not None:
                self.prep.resume()
        except OSError as exc:
            self.close()
            raise SimulationError(exc.strerror or str(exc)) from None
        self.manager.register_services()
        self.resources.register_services(self.broker)

    def _prep_host(self, config, names):
        """The PrEp host of the plugins ``names`` (else ``[prep] plugins``), or None."""
        settings = prep_config.read(config)
        if names:
            settings = dataclasses.replace(settings, plugins=tuple(names))
        elif config.get("prep.plugins") is None:
            return None
        if "prep/script" in settings.plugins:
            raise SimulationError("prep/script runs scripts, and a simulation starts no "
                                  "process: name PrEp plugins written in Python")
        if "NoHold" in settings.flags:
            raise SimulationError("[prep] flags: NoHold starts node prologs with the tasks, "
                                  "and a simulation starts none")
        host = PrepHost(settings, controller=True, node=True,
                        deliver=deliver_to_loop(self.loop, lambda: self.prep))
        try:
            host.init()
        except PrepError as exc:
            raise SimulationError(str(exc)) from None
        return host

    def _store_failed(self, exc):
        self.failure = exc

    def close(self):
        if self.prep is not None:
            self.prep.close()
        if self.prep_host is not None:
            self.prep_host.fini()
        self.store.close()
        if self.owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
