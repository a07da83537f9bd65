"""The controller's parts, assembled for a simulation: store, broker, scheduler, job manager
with its builtin and configured jobtap plugins, and exec with every job's execution simulated.

The parts are the instance's own, built by the same `corral.assembly` (with the resource
service: plugins ask it for the machine's size), less what a simulation has no use for: no
socket is served (requests go through the broker's in-process `rpc`), no node agent runs
(`nodes.SimulatedNode` answers the PrEp node hooks), no purge timer is started.
PrEp plugins load only when named (``--prep`` or ``[prep] plugins``): an instance's default,
``prep/script``, runs scripts, and a simulation starts no process (the plugin test kit's
machine, `runs_scripts`, lets it run them).  The store is a real SQLite store in a temporary
directory (on tmpfs when the machine has one), removed at the end unless it was given (the
plugin test kit restarts on it); its commits run at once on the loop's thread (see `clock`),
and it is a throw-away store: committed every so many batches and at `close`, which is all
a restart on it needs.
"""

import dataclasses
import os
import shutil
import tempfile
import time

from ..assembly import Assembly
from ..exec.channel import LocalChannel
from ..prep import config as prep_config
from ..prep.bridge import deliver_to_loop
from ..prep.cred import CredentialKey
from ..prep.host import PrepHost
from ..prep.loader import PrepError
from ..sched import NodeSpec
from .nodes import SimulatedNode


class SimulationError(Exception):
    """The simulation cannot be set up; ``str()`` says why in one line."""


class Machine:
    #: Whether ``prep/script`` may run the site's scripts for real (the plugin test kit's).
    runs_scripts = False

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
        if specs is None:
            cores = tuple(range(cores_per_node))
            specs = [NodeSpec(f"node{rank}", cores) for rank in range(nodes)]
        parts = Assembly(loop, config, specs=specs, state_dir=self.state_dir,
                         output_dir=os.path.join(self.state_dir, "output"),
                         owner_uid=self.owner_uid, uri="", credential_key=CredentialKey(),
                         connect_nodes=self._simulated_nodes,
                         on_store_failure=self._store_failed, prep_host=self.prep_host,
                         policy=policy, enforce_time_limits=kill_at_limit,
                         throwaway_store=True, callback_clock=time.thread_time)
        self.store, self.broker, self.pool = parts.store, parts.broker, parts.pool
        self.scheduler, self.manager, self.exec = parts.scheduler, parts.manager, parts.exec
        self.resources, self.prep = parts.resources, parts.prep
        try:
            parts.take_up_jobs(jobtap)
        except OSError as exc:
            self.close()
            raise SimulationError(exc.strerror or str(exc)) from None
        parts.register_services()

    def _simulated_nodes(self, parts):
        """`Assembly`'s ``connect_nodes``: a simulated node per rank, in this process."""
        to_exec = LocalChannel(self.loop, parts.to_exec)
        return [LocalChannel(self.loop, SimulatedNode(rank, spec.name, self.prep_host,
                                                      parts.credential_key, to_exec.send).handle)
                for rank, spec in enumerate(parts.specs)]

    def _prep_host(self, config, names):
        """The PrEp host of the plugins ``names`` (else ``[prep] plugins``), or None."""
        settings = prep_config.read(config)
        if names:
            settings = dataclasses.replace(settings, plugins=tuple(names))
        elif config.get("prep.plugins") is None:
            # Where scripts may run, a [prep] table means prep/script, as in an instance.
            if not (self.runs_scripts and config.get("prep")):
                return None
        if "prep/script" in settings.plugins and not self.runs_scripts:
            raise SimulationError("prep/script runs scripts, and a simulation starts no "
                                  "process: name PrEp plugins written in Python")
        if "NoHold" in settings.flags:
            raise SimulationError("[prep] flags: NoHold starts node prologs with the tasks, "
                                  "and a simulation starts none")
        host = PrepHost(settings, controller=True, node=True,
                        deliver=deliver_to_loop(self.loop, lambda: self.prep),
                        clock=time.thread_time)
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
