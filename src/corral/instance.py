"""A corral instance: the controller's parts assembled, started and stopped.

It reads the configuration and the resources (``[[resource.config]]``, ``--test-size`` nodes
sharing this machine's cores, or this machine itself), opens the store in the state
directory, builds broker, scheduler, job manager, exec and node agents (in this process for a
throw-away instance, agent processes it supervises for a persistent one, or agents of their
own that connect where ``[agents] listen`` says), reloads jobs, loads
plugins from the configuration, and serves the socket.  Stopping kills what still runs and
commits everything before the store closes, so a restart finds every job where it was.
"""

import asyncio
import logging
import os
import shutil
import signal
import socket
import tempfile

from . import config as config_module
from . import state_directory
from .assembly import Assembly
from .broker.dmesg import RingBuffer
from .broker.roles import ROLE_OWNER, ROLE_USER
from .collector import Collector
from .exec import launch, orphans
from .exec.agent import NodeAgent
from .exec.channel import LocalChannel
from .prep import config as prep_config
from .prep.bridge import deliver_to_loop
from .prep.cred import CredentialKey
from .prep.host import PrepHost
from .prep.loader import PrepError
from .sched import NodeSpec
from .state_lock import StateDirLock, StateDirLockError
from .tokens import Tokens
from .watchdog import Watchdog

log = logging.getLogger("corral")

SHUTDOWN_NOTE = "the instance shut down while the job was running"

#: Seconds a stop waits for a store that cannot commit (a full disk) before giving up.
STORE_FLUSH_TIMEOUT = 3.0
#: Seconds a start waits for its local agent processes to register before it serves.
LOCAL_AGENTS_TIMEOUT = 20.0


class StartupError(Exception):
    """The instance cannot start; ``str()`` is one line saying why."""


def node_specs(config, test_size: int | None) -> list[NodeSpec]:
    declared = config_module.resource_config(config)
    if declared:
        return [NodeSpec(node.name, tuple(node.cores), tuple(node.gpus), node.properties)
                for node in declared]
    cores = tuple(sorted(os.sched_getaffinity(0)))
    if test_size:
        return [NodeSpec(f"node{rank}", cores) for rank in range(test_size)]
    return [NodeSpec(socket.gethostname(), cores)]


class Instance:
    def __init__(self, config, state_dir: str | None = None, test_size: int | None = None,
                 listen: str | None = None, key_dir: str | None = None,
                 socket_path: str | None = None, agent_processes: bool = True):
        """``listen`` and ``key_dir``: where agents connect and the CURVE keys (else
        ``[agents]`` says; without either, the node agents run in this process, or, for a
        persistent instance with ``agent_processes``, in agent processes of its own).
        ``socket_path``: where clients connect (default ``local.sock`` in the state
        directory; the system instance's is in ``/run/corral``)."""
        self.config = config
        self.agent_processes = agent_processes
        self.listen = listen
        self.key_dir = key_dir
        self.owner_uid = os.geteuid()
        self.temporary_state_dir = state_dir is None
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="corral-")
        self.test_size = test_size
        self.socket_path = socket_path or os.path.join(self.state_dir, "local.sock")
        self.uri = f"local://{self.socket_path}"
        self.stopped = None
        self.dmesg = RingBuffer()
        self.prep = None
        self.prep_host = None
        self.lock = None
        self.metrics = None
        self.metrics_address = None
        self.exit_code = 0  # non-zero once the instance cannot stop cleanly

    async def start(self):
        loop = asyncio.get_running_loop()
        self.loop = loop
        launch.raise_open_file_limit()
        self.stopped = loop.create_future()
        logging.getLogger("corral").addHandler(self.dmesg)
        config = self.config
        guests = config_module.allow_guest_user(config)
        # Checked before anything starts; served once the instance serves.
        self.metrics_address = _metrics_address(config)
        try:
            # Checked, then locked before anything in it changes (another instance may be
            # using it), then made private.
            state_directory.create(self.state_dir)
            self.lock = StateDirLock(self.state_dir)
            output_dir = state_directory.prepare(self.state_dir, guests)
            if os.path.dirname(self.socket_path) != self.state_dir:
                state_directory.create_socket_directory(os.path.dirname(self.socket_path))
        except (state_directory.StateDirectoryError, StateDirLockError) as exc:
            raise StartupError(str(exc)) from None
        # Watching from the start: a plugin that hangs on a stored job must not stop it.
        self.watchdog = Watchdog(loop, config.get_duration("job-manager.callback-timeout", 10))
        self.watchdog.start(self._emergency_stop)

        # PrEp plugins load first: one that cannot load or initialise stops the start.
        prep_settings = prep_config.read(config)
        self.prep_host = PrepHost(prep_settings, controller=True, node=True,
                                  deliver=deliver_to_loop(loop, lambda: self.prep))
        try:
            self.prep_host.init()
        except PrepError as exc:
            self.prep_host = None
            raise StartupError(str(exc)) from None
        credential_key = CredentialKey()

        self.agents = []
        self.remote_nodes = None
        self.local_agents = None
        self.listen = self.listen or config.get_str("agents.listen")
        processes = not self.listen and self.agent_processes and agents_as_processes(
            self.temporary_state_dir)
        # Tasks outlive the controller where agents are processes of their own and the state
        # directory outlives it too: the next controller of this instance takes them back.
        self.tasks_outlive = bool(self.listen or processes) and not self.temporary_state_dir
        connect = self._remote_agents if self.listen else (
            self._agent_processes if processes else self._agents_in_process)
        parts = Assembly(loop, config, specs=node_specs(config, self.test_size),
                         state_dir=self.state_dir, output_dir=output_dir,
                         owner_uid=self.owner_uid, uri=self.uri,
                         credential_key=credential_key, connect_nodes=connect,
                         on_store_failure=lambda exc: self.request_stop(exit_code=1),
                         prep_host=self.prep_host, tasks_outlive=self.tasks_outlive)
        self.parts = parts
        self.store, self.broker, self.pool = parts.store, parts.broker, parts.pool
        self.scheduler, self.manager, self.exec = parts.scheduler, parts.manager, parts.exec
        self.resources, self.prep = parts.resources, parts.prep
        if self.remote_nodes is not None:
            try:
                await self.remote_nodes.start()
            except OSError as exc:
                raise StartupError(exc.strerror or str(exc)) from None
        if not self.tasks_outlive:
            orphans.kill_orphans(self.uri)  # the last controller's tasks died with it
        try:
            parts.take_up_jobs()
        except OSError as exc:
            # A builtin refused the configuration in conf.update (e.g. [policy.limits]).
            raise StartupError(f"{config.path}: {exc.strerror}") from None
        if self.local_agents is None:
            await self._serve(guests)
            return
        # Started once nothing before can refuse the start, and stopped again if what follows
        # fails (unless jobs run: they are the next start's).
        self.local_agents.start()
        try:
            # Agents that died while no controller ran left the tasks of the jobs just taken
            # back on their nodes: nothing can report their ends.
            for rank in self.local_agents.started_anew:
                self._local_agent_died(rank)
            await self._serve(guests)
        except BaseException:
            await self.local_agents.stop(self.manager.running)
            raise

    # --- how exec reaches the nodes (`Assembly`'s ``connect_nodes``) -------------------

    def _remote_agents(self, parts):
        """Agents of their own that connect where ``[agents] listen`` says."""
        self.remote_nodes = _remote_nodes(
            self.config, self.listen, self.key_dir, parts.pool, parts.scheduler,
            parts.credential_key, parts.to_exec, parts.node_failed, parts.store.after_commit,
            parts.broker)
        return self.remote_nodes.channels

    def _agent_processes(self, parts):
        """Agent processes this controller supervises, one per node."""
        self.local_agents, self.remote_nodes = _local_agents(
            self.config, self.state_dir, parts.pool, parts.scheduler, parts.credential_key,
            parts.to_exec, parts.node_failed, parts.store.after_commit, self._local_agent_died)
        return self.remote_nodes.channels

    def _agents_in_process(self, parts):
        """One node agent per node in this process (their tasks end with it)."""
        to_exec = LocalChannel(self.loop, parts.to_exec)
        channels = []
        for rank, spec in enumerate(parts.specs):
            agent = NodeAgent(self.loop, rank, spec.name, to_exec.send, self.prep_host,
                              parts.credential_key)
            self.agents.append(agent)
            channels.append(LocalChannel(self.loop, agent.handle))
        return channels

    async def _serve(self, guests: bool):
        """Register the services, wait for what must be stored and for the local agents,
        then open the socket."""
        loop = self.loop
        self.parts.register_services()
        self.broker.register("prep.list", self._serve_prep_list, ROLE_OWNER | ROLE_USER)
        self.dmesg.register_services(self.broker)
        Tokens(self.store).register_services(self.broker)
        self.broker.register("instance.info", self._serve_info, ROLE_OWNER | ROLE_USER)
        self.broker.register("job-exec.stdin", self.exec.serve_stdin, ROLE_OWNER | ROLE_USER)
        self.broker.register("instance.shutdown", self._serve_shutdown, ROLE_OWNER)
        # What restart wrote (the events of jobs it ended) is stored before anyone can ask.
        await self.store.flush()
        if self.local_agents is not None and not await self.remote_nodes.until_registered(
                LOCAL_AGENTS_TIMEOUT):
            log.error("agents: not every node agent registered within %.0f s (see %s)",
                      LOCAL_AGENTS_TIMEOUT, self.local_agents.directory)
        if self.metrics_address is not None:
            self.metrics = _serve_metrics(self, self.metrics_address)
        await self.broker.listen(self.socket_path)
        if guests:
            state_directory.warn_if_unreachable(self.socket_path)
        self.collector = Collector(loop, lambda: not self.manager.active)
        self.collector.start()
        self.manager.purge.start()
        log.info("corral instance started at %s with %d nodes", self.uri, len(self.pool.nodes))

    def _local_agent_died(self, rank: int):
        """The agent process of ``rank`` died: kill the tasks it left of the jobs there."""
        orphans.kill_orphans(self.uri, self.exec.job_ids_on(rank))

    def _serve_info(self, msg):
        msg.respond({
            "uri": self.uri,
            "state_dir": self.state_dir,
            "owner": self.owner_uid,
            "nodes": len(self.pool.nodes),
            "metrics": self.metrics.url if self.metrics is not None else None,
        })

    def _serve_prep_list(self, msg):
        msg.respond(self.prep.describe())

    def _serve_shutdown(self, msg):
        msg.respond({})
        self.request_stop()

    def request_stop(self, exit_code=0):
        self.exit_code = self.exit_code or exit_code
        if self.stopped is not None and not self.stopped.done():
            self.stopped.set_result(None)

    async def stop(self):
        """Stop serving, end running jobs with an exception that says why (unless their
        tasks outlive this controller: they run on for the next), commit, close."""
        await self.broker.close()
        if self.metrics is not None:
            self.metrics.stop()
        self.collector.stop()
        self.manager.purge.stop()
        if not self.tasks_outlive:
            self.manager.shutdown(SHUTDOWN_NOTE)
            deadline = self.loop.time() + config_module.kill_timeout(self.config) + 1
            while self.manager.running > 0 and self.loop.time() < deadline:
                await asyncio.sleep(0.02)
        for agent in self.agents:
            agent.kill_all(signal.SIGKILL)
        if self.local_agents is not None:
            await self.local_agents.stop(self.manager.running)
        if self.remote_nodes is not None:
            await self.remote_nodes.close()
        if self.prep is not None:
            self.prep.close()
        if self.prep_host is not None:
            self.prep_host.fini()  # kills the hook scripts still running
        if self.store.failed is None:
            await self._flush_store()
        self.store.close()
        self.watchdog.stop()
        logging.getLogger("corral").removeHandler(self.dmesg)
        if self.temporary_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        self.lock.release()

    def _emergency_stop(self):
        """The event loop is stuck and a stop was asked for (the watchdog's thread): store
        what is queued, kill the tasks of the node agents in this process (those of agent
        processes run on, for the next controller) and hook scripts, exit 1."""
        try:
            self.store.commit_queued_now()
        except Exception as exc:
            log.critical("job store: the writes queued could not be committed: %s", exc)
        for agent in getattr(self, "agents", ()):
            agent.kill_all(signal.SIGKILL)
        if self.prep_host is not None:
            self.prep_host.fini()
        log.critical("corral instance stopped by its watchdog")
        os._exit(1)

    async def _flush_store(self):
        """Commit everything; while commits fail, try for a few seconds, then say what is
        lost and exit non-zero."""
        if self.store.unavailable is None:
            await self.store.flush()
            return
        try:
            await asyncio.wait_for(self.store.flush(), STORE_FLUSH_TIMEOUT)
        except TimeoutError:
            log.error("job store: stopping with %d writes not stored: %s",
                      self.store.queued_writes, self.store.unavailable)
            self.exit_code = 1


def agents_as_processes(temporary_state_dir: bool) -> bool:
    """Whether the nodes of an instance without ``[agents] listen`` are served by agent
    processes of their own (`corral.agent.local`) rather than inside the controller: for a
    persistent instance, so that its jobs outlive the controller (its PrEp node hooks run
    there too: each agent reads the instance's configuration).  A throw-away instance keeps
    its agents in its own process: its jobs end with it anyway, and it starts sooner."""
    return not temporary_state_dir


def _remote_nodes(config, listen, key_dir, pool, scheduler, credential_key, on_message,
                  on_node_failed, after_commit, broker):
    """The declared nodes served by agents that connect at ``listen`` (``[agents]``): a
    `RemoteNodes`.  Its modules (and ZeroMQ) are loaded only by a controller that listens."""
    from .agent.nodes import RemoteNodes
    from .transport import KeyMaterialError
    from .transport.settings import from_config

    key_dir = key_dir or config.get_str("agents.key-dir")
    if not key_dir:
        raise StartupError("agents listen on " + listen + " but no key directory is given "
                           "(--key-dir or [agents] key-dir)")
    if not config_module.resource_config(config):
        raise StartupError("agents listen on " + listen + " but no nodes are declared in "
                           "[[resource.config]]")
    try:
        return RemoteNodes(listen, key_dir, from_config(config), pool, scheduler, credential_key,
                           on_message, on_node_failed, after_commit, broker)
    except (KeyMaterialError, ValueError) as exc:
        raise StartupError(str(exc)) from None


def _metrics_address(config):
    """``[metrics] listen`` checked before anything starts; its module (and
    prometheus_client) are loaded only by a controller that serves metrics."""
    if config.get("metrics.listen") is None:
        return None
    try:
        from . import metrics
    except ImportError:
        raise config.error("metrics.listen", "serving metrics needs the prometheus_client "
                                             "package (pip install 'corral[metrics]')") from None
    return metrics.listen_address(config)


def _serve_metrics(instance, address):
    from .metrics import Metrics

    served = Metrics(instance, address)
    try:
        served.start()
    except OSError as exc:
        raise StartupError(f"[metrics] listen {address[0]}:{address[1]}: "
                           f"{exc.strerror or exc}") from None
    return served


def _local_agents(config, state_dir, pool, scheduler, credential_key, on_message,
                  on_node_failed, after_commit, on_agent_exit):
    """This machine's nodes served by agent processes the controller supervises, over
    ``ipc://`` in the state directory, each reading the instance's configuration file for
    its PrEp node hooks: ``(LocalAgents, RemoteNodes)``."""
    from .agent.daemon import REATTACH_TIMEOUT
    from .agent.local import LocalAgents
    from .agent.nodes import RemoteNodes
    from .transport import KeyMaterialError
    from .transport.settings import from_config

    settings = from_config(config)
    reattach_timeout = config.get_duration("agents.reattach-timeout", REATTACH_TIMEOUT)
    if reattach_timeout <= 0:
        raise config.error("agents.reattach-timeout", "must be a positive duration")
    config_path = os.path.abspath(config.path) if config.path is not None else None
    agents = LocalAgents(state_dir, [node.name for node in pool.nodes], settings,
                         reattach_timeout, config_path, on_agent_exit)
    try:
        agents.prepare_keys()
        nodes = RemoteNodes(agents.endpoint, agents.key_dir, settings, pool, scheduler,
                            credential_key, on_message, on_node_failed, after_commit)
    except OSError as exc:
        raise StartupError(f"{agents.key_dir}: {exc.strerror or exc}") from None
    except (KeyMaterialError, ValueError) as exc:
        raise StartupError(str(exc)) from None
    return agents, nodes


async def serve(instance: Instance, command: list[str] | None, ready=None) -> int:
    """Run an instance until a signal (or until ``command`` exits); return the exit code.
    ``ready``: a coroutine function awaited once it serves (agents to bootstrap, a line to
    print)."""
    await instance.start()
    if ready is not None:
        await ready()
    instance.watchdog.handle_termination((signal.SIGTERM, signal.SIGINT),
                                         instance.request_stop)
    exit_code = 0
    if command:
        env = dict(os.environ, CORRAL_URI=instance.uri)
        try:
            process = await asyncio.create_subprocess_exec(*command, env=env)
        except OSError as exc:
            await instance.stop()
            raise StartupError(f"{command[0]}: {exc.strerror}") from None
        waiter = asyncio.ensure_future(process.wait())
        await asyncio.wait([waiter, instance.stopped], return_when=asyncio.FIRST_COMPLETED)
        if waiter.done():
            exit_code = waiter.result()
            if exit_code < 0:
                exit_code = 128 - exit_code
        else:
            process.terminate()
            exit_code = 128 + signal.SIGTERM
            await waiter
    else:
        await instance.stopped
    await instance.stop()
    return exit_code or instance.exit_code
