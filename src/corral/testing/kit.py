"""A corral job manager on a virtual clock, for testing jobtap and PrEp plugins without a
daemon.

`Kit` is the simulator's machine (`corral.sim.machine`: the real job manager, scheduler,
store, jobtap host and PrEp host with simulated nodes, execution simulated) driven one
step at a time by a test: load a plugin with its settings, submit jobs (as the owner or as
any user), let virtual time pass, read eventlogs and job listings, call services, fail a
node, restart from the store.  Nothing sleeps, no task process is started and no socket is
opened, so a test of a plugin takes milliseconds.  The processes it does start are the
site's: ``prep/script`` runs the Prolog and Epilog scripts for real (a test of them is what
the kit is for), and their results, like an asynchronous PrEp plugin's callbacks, land at
the virtual moment their hook began (`_OwedCallbacks`).

A plugin that raises (in a callback, a timer, a service, ``plugin_init``, a PrEp hook) or
returns what a callback or hook may not fails the test at the kit's next step, naming the
plugin, with its traceback: the job manager itself only logs such failures, as it must in
production.
"""

import errno
import logging
import os
import re
import shutil
import tempfile
import time

from .. import config as config_module
from .. import jobspec
from ..agent.nodes import LOST
from ..broker.message import RequestError
from ..broker.roles import ROLE_OWNER, ROLE_USER
from ..instance import node_specs
from ..sim.clock import VirtualClockLoop, patched_time
from ..sim.machine import Machine

#: Virtual time at which a kit starts (as the simulator's: an epoch that reads as set).
EPOCH = 1_000_000_000.0
#: Real seconds the kit waits for a PrEp controller hook's callbacks before it gives up on
#: them and fails the test (a longer ``[prep]`` timeout is waited out, plus this).
CALLBACK_PATIENCE = 30.0


class PluginFailure(AssertionError):
    """A jobtap plugin raised, or returned what it may not; ``str()`` names the plugin."""


class RPCFailure(Exception):
    """A service answered with an error: ``errno`` and ``strerror`` as the client's."""

    def __init__(self, errnum: int, text: str):
        super().__init__(errnum, text)
        self.errno = errnum
        self.strerror = text


#: What the PrEp host logs when a plugin's function fails: it raised, or returned what it may
#: not (``prep: NAME: HOOK(job N) raised ...``, ``... returned ..., expected ...``).
_PREP_FAILURE = re.compile(
    r"prep: (?P<plugin>.+?): (?P<what>\S+(\(job \d+\))? (raised|returned .*, expected) .*)",
    re.DOTALL)
#: The loggers whose records `_PluginFailures` reads.
_PLUGIN_LOGGERS = ("corral.jobtap", "corral.prep")


class _PluginFailures(logging.Handler):
    """Collects what the jobtap and PrEp hosts log when a plugin fails: from ``corral.jobtap``
    the records with a traceback, or a callback's wrong return value; from ``corral.prep``
    a hook that raised or returned what it may not."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.failures: list[str] = []

    def emit(self, record):
        message = record.getMessage()
        if record.name.startswith("corral.jobtap"):
            if record.exc_info is None and "expected an int or None" not in message:
                return
            plugin, _, what = message.removeprefix("jobtap: ").partition(": ")
            kind = "jobtap"
        else:
            matched = _PREP_FAILURE.fullmatch(message) if record.name == "corral.prep" else None
            if matched is None:
                return
            plugin, what = matched["plugin"], matched["what"]
            kind = "PrEp"
        if record.exc_info is not None:
            what += "\n" + logging.Formatter().formatException(record.exc_info)
        self.failures.append(f"{kind} plugin {plugin} failed: {what}")

    def attach(self):
        for name in _PLUGIN_LOGGERS:
            logging.getLogger(name).addHandler(self)

    def detach(self):
        for name in _PLUGIN_LOGGERS:
            logging.getLogger(name).removeHandler(self)


class _KitMachine(Machine):
    """The simulator's machine, but ``prep/script`` runs the site's scripts for real: a test
    of them is what the kit is for."""

    runs_scripts = True


class _OwedCallbacks:
    """The kit loop's `outside_work`: while a PrEp controller hook owes callbacks (each
    ``prep/script`` controller script reports from a thread of its own, as any plugin's
    asynchronous hook may), the virtual clock stands still and the loop waits for them in
    real time.  Callbacks that do not come within the patience are given up on (the job
    waits, as in an instance) and the test fails, naming the job."""

    def __init__(self, kit):
        self.kit = kit
        self.given_up: set[int] = set()
        self.state = None  # what was owed when the wait began, and when that was
        self.since = 0.0

    def __call__(self) -> float | None:
        bridge = self.kit.machine.prep if self.kit.machine is not None else None
        if bridge is None:
            return None
        owed = {job_id: units for pending in (bridge.prolog_units, bridge.epilog_units)
                for job_id, units in pending.owed().items() if job_id not in self.given_up}
        if not owed:
            self.state = None
            return None
        settings = bridge.host.settings
        patience = CALLBACK_PATIENCE + max(settings.prolog_timeout or 0,
                                           settings.epilog_timeout or 0)
        now = time.monotonic()
        if owed != self.state:  # a callback came (or a hook began): the wait starts again
            self.state, self.since = owed, now
        left = self.since + patience - now
        if left > 0:
            return left
        self.given_up.update(owed)
        self.kit.failures.failures.append(
            f"PrEp controller hooks sent no callback in {patience:g} s of real time: "
            + ", ".join(f"job {job_id} is owed {units}" for job_id, units in owed.items()))
        return None


class Kit:
    """A job manager for one test.  ``config`` is TOML text (the instance configuration,
    ``[[resource.config]]`` included); without declared resources the machine is ``nodes``
    nodes of ``cores_per_node`` cores.  ``plugins`` (paths or module names, or ``(plugin,
    conf)`` pairs) are loaded at every start, as ``[job-manager] plugins`` are, so they come
    back after `restart`; `load` loads one at run time, as ``corral jobtap load`` does."""

    def __init__(self, config: str = "", nodes: int = 1, cores_per_node: int = 4,
                 plugins=()):
        self.state_dir = tempfile.mkdtemp(prefix="corral-kit-")
        path = os.path.join(self.state_dir, "config.toml")
        with open(path, "w") as file:
            file.write(config)
        self.config = config_module.load(path)
        declared = config_module.resource_config(self.config)
        self.specs = node_specs(self.config, None) if declared else None
        self.nodes = nodes
        self.cores_per_node = cores_per_node
        self.plugins = [(item, None) if isinstance(item, str) else tuple(item)
                        for item in plugins]
        self.loop = VirtualClockLoop(EPOCH)
        self.loop.outside_work = _OwedCallbacks(self)
        self.failures = _PluginFailures()
        self.failures.attach()
        self.machine = None
        self._start()

    # --- the machine ------------------------------------------------------------------

    def _start(self):
        with patched_time(self.loop):
            self.machine = _KitMachine(self.loop, self.config, self.nodes, self.cores_per_node,
                                      None, self.plugins, specs=self.specs,
                                      state_dir=self.state_dir)
            self._run(self.machine.store.flush())
        self.check()

    def restart(self):
        """Stop the job manager with everything stored and start another on the same store,
        as after ``corral shutdown`` and ``corral start``: plugins loaded at run time are
        gone, those of ``plugins`` and of the configuration are loaded again."""
        with patched_time(self.loop):
            self._run(self.machine.store.flush())
        self.machine.close()
        # A new loop at the same moment: nothing the old job manager had scheduled (a
        # simulated job's end, a plugin's timer) survives it, as nothing of a stopped
        # controller does.
        moment = self.loop.time()
        self.loop.close()
        self.loop = VirtualClockLoop(moment)
        self.loop.outside_work = _OwedCallbacks(self)
        self._start()

    def close(self):
        self.failures.detach()
        if self.machine is not None:
            self.machine.close()
            self.machine = None
        self.loop.close()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def check(self):
        """Raise `PluginFailure` for the first plugin failure not reported yet."""
        if self.failures.failures:
            failure = self.failures.failures.pop(0)
            self.failures.failures.clear()
            raise PluginFailure(failure)

    def _run(self, awaitable):
        return self.loop.run_until_complete(awaitable)

    # --- time -------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Virtual seconds since the kit started."""
        return self.loop.time() - EPOCH

    def time(self) -> float:
        """What ``time.time()`` reads for the plugins now: the virtual epoch seconds (for
        ``begin_time``, expirations, timestamps)."""
        return self.loop.time()

    def advance(self, seconds: float):
        """Let ``seconds`` of virtual time pass: every timer, job end and plugin callback due
        in them runs."""
        with patched_time(self.loop):
            self._run(self.loop.wake_at(self.loop.time() + seconds))
        self.check()

    def fail_node(self, node: str | int):
        """Node ``node`` (a name or a rank) is lost with its tasks, as when its agent falls
        silent: it is drained (``node lost``) and each job running
        there ends with a ``node-fail`` exception, requeued unless it asked not to be or ran
        ``[agents] max-requeue`` times."""
        pool = self.machine.pool
        rank = node if isinstance(node, int) else pool.by_name[node].rank
        name = pool.nodes[rank].name
        with patched_time(self.loop):
            pool.drain(rank, LOST, time.time())
            self.machine.exec.node_failed(rank, f"node {name} (rank {rank}) lost")
            self._run(self.machine.store.flush())
        self.check()

    # --- requests ---------------------------------------------------------------------

    def rpc(self, topic: str, payload=None, userid: int | None = None):
        """Call a service as the owner (or as ``userid``, with the user role); its answer, or
        `RPCFailure`."""
        rolemask = ROLE_OWNER if userid is None else ROLE_USER
        with patched_time(self.loop):
            answer = self.machine.broker.rpc(topic, payload, userid=userid, rolemask=rolemask)
            try:
                result = self._run(answer)
            except RequestError as exc:
                raise RPCFailure(exc.errno, exc.strerror) from None
            finally:
                self.check()
        return result

    def submit(self, command=("true",), run: float = 0, userid: int | None = None,
               urgency: int = 16, **options) -> int:
        """Submit a job whose execution is simulated for ``run`` seconds; ``options`` are
        `corral.jobspec.build`'s (``ntasks``, ``nnodes``, ``duration``, ``queue``,
        ``setattr``, ...).  The job id; a refused submission raises `RPCFailure` with the
        message the submitter would see."""
        setattr_ = list(options.pop("setattr", ()))
        setattr_.append(f"system.exec.test.run_duration={run}")
        spec = jobspec.build(list(command), cwd="/tmp", setattr=setattr_, **options)
        return self.submit_jobspec(spec, userid, urgency)

    def submit_jobspec(self, spec: dict, userid: int | None = None,
                       urgency: int = 16) -> int:
        answer = self.rpc("job-manager.submit", {"jobs": [{"jobspec": spec,
                                                           "urgency": urgency}]}, userid)
        result = answer["jobs"][0]
        if "id" not in result:
            raise RPCFailure(result.get("errnum", errno.EINVAL), result.get("errstr", ""))
        return result["id"]

    def cancel(self, job_id: int):
        self.rpc("job-manager.raise", {"id": job_id, "type": "cancel", "severity": 0,
                                       "note": ""})

    def set_urgency(self, job_id: int, urgency: int):
        self.rpc("job-manager.urgency", {"id": job_id, "urgency": urgency})

    def load(self, plugin: str, **conf) -> None:
        """``corral jobtap load PLUGIN key=value...``: settings as keyword arguments (use
        ``**{"half-life": "1h"}`` for names that are not identifiers)."""
        self.rpc("job-manager.jobtap", {"load": plugin, "conf": conf})

    def query(self, plugin: str) -> dict:
        return self.rpc("job-manager.jobtap-query", {"name": plugin})

    # --- reading ----------------------------------------------------------------------

    def eventlog(self, job_id: int) -> list[dict]:
        """The job's eventlog (what ``corral job eventlog`` shows)."""
        return self.rpc("job-info.eventlog", {"id": job_id})["events"]

    def names(self, job_id: int) -> list[str]:
        return [event["name"] for event in self.eventlog(job_id)]

    def events(self, job_id: int, name: str) -> list[dict]:
        return [event for event in self.eventlog(job_id) if event["name"] == name]

    def job(self, job_id: int) -> dict:
        """The job as ``corral jobs`` lists it (state, priority, reason, nodelist, ...)."""
        return self.rpc("job-list.list-id", {"id": job_id})["job"]

    def wait(self, job_id: int, name: str = "clean", within: float = 86400.0) -> dict:
        """Let virtual time pass until the job has event ``name`` (at most ``within``
        seconds); the event.  AssertionError when it does not come."""
        try:
            return self.rpc("job-info.wait-event", {"id": job_id, "name": name,
                                                    "timeout": within})["event"]
        except RPCFailure as exc:
            raise AssertionError(f"job {job_id}: no {name} event ({exc.strerror}); its "
                                 f"events: {self.names(job_id)}") from None
