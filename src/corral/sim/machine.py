"""The controller's parts, assembled for a simulation: store, broker, scheduler, job manager
with its builtin and configured jobtap plugins, and exec with every job's execution simulated.

The parts are the instance's own, built in the same order as `corral.instance` builds them,
with the resource service (plugins ask it for the machine's size), less what a simulation has
no use for: no socket is served (requests go through the broker's
in-process `rpc`), no node agent runs, no PrEp host or purge timer is started.  The store is a
real SQLite store in a temporary directory (on tmpfs when the machine has one), removed at
the end; its commits run at once on the loop's thread (see `clock`).
"""

import os
import shutil
import tempfile

from ..broker.server import Broker
from ..exec.service import Exec
from ..instance import Instance
from ..jobmanager import JobManager
from ..resource import ResourceService
from ..sched import NodeSpec, QueuePolicies, ResourcePool, Scheduler
from ..store import Store


class SimulationError(Exception):
    """The simulation cannot be set up; ``str()`` says why in one line."""


class Machine:
    def __init__(self, loop, config, nodes: int, cores_per_node: int, policy: str | None,
                 jobtap=(), kill_at_limit=False, specs=None, state_dir=None):
        """``specs`` (NodeSpecs) replace ``nodes`` × ``cores_per_node``; a ``state_dir``
        given is kept at `close` and its store's jobs are taken up as at a restart."""
        self.loop = loop
        self.config = config
        self.owns_state_dir = state_dir is None
        if state_dir is None:
            tmpfs = ("/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)
                     else None)
            state_dir = tempfile.mkdtemp(prefix="corral-sim-", dir=tmpfs)
        self.state_dir = state_dir
        self.owner_uid = os.geteuid()
        self.failure = None
        self.store = Store(os.path.join(self.state_dir, "corral.db"), loop)
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
        self.exec = Exec(loop, None, [], output_dir, "", None)
        self.exec.enforce_time_limits = kill_at_limit
        self.resources = ResourceService(self.pool, self.scheduler, self.store)
        self.manager.attach_exec(self.exec)
        self.exec.respond = self.manager.start
        try:
            self.manager.load_builtins()
            jobs = self.manager.restart()
            # The instance's own reading of [job-manager] plugins, then the command's.
            Instance._load_config_plugins(self)
            for plugin in jobtap:  # a path or module, or (path, conf)
                path, conf = (plugin, None) if isinstance(plugin, str) else plugin
                self.manager.jobtap.load(path, conf)
            self.manager.resume(jobs)
        except OSError as exc:
            self.close()
            raise SimulationError(exc.strerror or str(exc)) from None
        self.manager.register_services()
        self.resources.register_services(self.broker)

    def _store_failed(self, exc):
        self.failure = exc

    def close(self):
        self.store.close()
        if self.owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
