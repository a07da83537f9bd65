"""Agents started by the controller: ``corral start --bootstrap=ssh`` and ``--bootstrap=slurm``.

Over SSH, the controller runs ``corral agent`` on each node declared in ``[[resource.config]]``
with the ``[agents] ssh`` command (``ssh -o BatchMode=yes`` by default: a missing key fails at
once instead of asking for a password nobody will type).  Inside a Slurm allocation, it reads
``SLURM_JOB_NODELIST`` and starts one agent per node with one ``srun`` step, as Flux and
HyperQueue start their brokers and workers there; the nodes are those of the allocation, each
with the CPUs ``SLURM_JOB_CPUS_PER_NODE`` gives it, unless ``[[resource.config]]`` declares
them.

Agents started so live as long as the controller that started them, as an instance started
inside an allocation ends with it: each ssh agent stops when its standard input, held by the
controller, closes (``corral agent --exit-on-eof``), so also when the controller is killed;
srun ends its step when told to.  Agents that must outlive the controller run from a service
manager instead (``corral-agent.service``).  What a bootstrap process prints goes to the
controller's log at debug level; one that exits is logged with its status and last lines,
and its node stays down until an agent registers for it.
"""

import asyncio
import collections
import logging
import os
import re
import shlex
import signal
import socket
import sys
import threading

from .. import config as config_module
from .. import hostlist

log = logging.getLogger("corral.bootstrap")

DEFAULT_SSH = ("ssh", "-o", "BatchMode=yes")
#: One step over the whole allocation, not pinned: the agent pins its own tasks.
DEFAULT_SRUN = ("srun", "--whole", "--mpi=none", "--cpu-bind=none")
DEFAULT_COMMAND = ("corral",)
#: Seconds a stopping controller gives bootstrap processes after SIGTERM before SIGKILL.
STOP_GRACE = 5.0
#: Lines of a bootstrap process's output kept to say why it exited.
TAIL_LINES = 5
_CPU_COUNT = re.compile(r"(\d+)(?:\(x(\d+)\))?")


class BootstrapError(ValueError):
    """A bootstrap that cannot be done; ``str()`` is one sentence saying why."""


def cpus_per_node(text: str) -> list[int]:
    """Slurm's ``SLURM_JOB_CPUS_PER_NODE`` (``"4(x2),2"``) as one count per node."""
    counts = []
    for item in text.split(","):
        match = _CPU_COUNT.fullmatch(item.strip())
        if match is None:
            raise BootstrapError(f"SLURM_JOB_CPUS_PER_NODE {text!r} is not a list of counts "
                                 "like 4(x2),2")
        counts += [int(match[1])] * int(match[2] or 1)
    return counts


def allocation_nodes(environ) -> list[tuple[str, int]]:
    """``[(node, cpus)]`` of the Slurm allocation this process runs in."""
    nodelist = environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_NODELIST")
    if not nodelist:
        raise BootstrapError("--bootstrap=slurm: SLURM_JOB_NODELIST is not set (run it inside "
                             "a Slurm allocation: salloc, sbatch)")
    try:
        nodes = hostlist.expand(nodelist)
    except ValueError as exc:
        raise BootstrapError(f"SLURM_JOB_NODELIST: {exc}") from None
    text = environ.get("SLURM_JOB_CPUS_PER_NODE")
    counts = cpus_per_node(text) if text else [os.cpu_count() or 1] * len(nodes)
    if len(counts) != len(nodes):
        raise BootstrapError(f"SLURM_JOB_CPUS_PER_NODE {text!r} names {len(counts)} nodes, "
                             f"SLURM_JOB_NODELIST {nodelist!r} {len(nodes)}")
    return list(zip(nodes, counts, strict=True))


def with_allocation_nodes(config, environ):
    """``config`` with the nodes of the Slurm allocation as ``[[resource.config]]`` (node N
    with cores ``0-(cpus-1)``), unless it declares nodes itself."""
    if config_module.resource_config(config):
        return config
    nodes = [{"hosts": node, "cores": f"0-{cpus - 1}"}
             for node, cpus in allocation_nodes(environ)]
    data = dict(config.data)
    data["resource"] = dict(data.get("resource", {}), config=nodes)
    return config_module.Config(data, config.path)


def connect_address(config, listen: str) -> str:
    """Where agents dial: ``[agents] connect``, else ``listen`` with a wildcard address
    (``*``, ``0.0.0.0``, ``[::]``) replaced by this machine's name."""
    connect = config.get_str("agents.connect")
    if connect:
        return connect
    scheme, _, rest = listen.partition("://")
    if scheme != "tcp":
        return listen
    host, _, port = rest.rpartition(":")
    if host in ("*", "0.0.0.0", "[::]", "::"):
        host = socket.getfqdn()
    return f"tcp://{host}:{port}"


def _argv(config, key: str, default: tuple) -> list[str]:
    value = config.get_list(key, list(default))
    if not value or not all(isinstance(part, str) and part for part in value):
        raise config.error(key, "must be a non-empty array of non-empty strings")
    return list(value)


def agent_argv(config, listen: str, key_dir: str, settings, config_path: str | None,
               exit_on_eof: bool) -> list[str]:
    """The ``corral agent`` command line of a bootstrapped agent (without ``--hostname``):
    the controller's address, key directory, configuration and clocks, and the socket for the
    node's commands (``[agents] socket``); the paths are the controller's, so they must be the
    same on every node (a shared file system, or copies)."""
    argv = [*_argv(config, "agents.command", DEFAULT_COMMAND), "agent",
            f"--connect={connect_address(config, listen)}",
            f"--key-dir={os.path.abspath(key_dir)}",
            f"--heartbeat-interval={settings.heartbeat_interval}",
            f"--unresponsive-after={settings.unresponsive_after}",
            f"--lost-after={settings.lost_after}"]
    if config_path is not None:
        argv.append(f"--config={os.path.abspath(config_path)}")
    socket_path = config.get_str("agents.socket")
    if socket_path:
        argv.append(f"--socket={socket_path}")
    if exit_on_eof:
        argv.append("--exit-on-eof")
    return argv


def commands(method: str, config, listen: str, key_dir: str, settings,
             config_path: str | None) -> list[tuple[str, list[str]]]:
    """``[(what, argv)]``: the processes that start the agents, ``what`` naming the node (or
    the nodes, for one srun)."""
    nodes = [node.name for node in config_module.resource_config(config)]
    if method == "ssh":
        ssh = _argv(config, "agents.ssh", DEFAULT_SSH)
        agent = agent_argv(config, listen, key_dir, settings, config_path, exit_on_eof=True)
        # ssh hands the remote shell one string: quoted here, exec'd there.
        return [(node, [*ssh, node, "exec " + shlex.join([*agent, f"--hostname={node}"])])
                for node in nodes]
    srun = _argv(config, "agents.srun", DEFAULT_SRUN)
    agent = agent_argv(config, listen, key_dir, settings, config_path, exit_on_eof=False)
    # Each agent registers under the name Slurm gives its node (srun sets SLURMD_NODENAME).
    script = "exec " + shlex.join(agent) + ' --hostname="$SLURMD_NODENAME"'
    return [(hostlist.compress(nodes),
             [*srun, f"--nodes={len(nodes)}", f"--ntasks={len(nodes)}",
              "--ntasks-per-node=1", f"--nodelist={hostlist.compress(nodes)}",
              "sh", "-c", script])]


class Bootstrap:
    """The processes that start the agents, owned by the controller."""

    def __init__(self, method: str, commands: list[tuple[str, list[str]]]):
        self.method = method
        self.commands = commands
        self.processes: list[asyncio.subprocess.Process] = []
        self._watchers: list[asyncio.Task] = []
        self._stopping = False

    async def start(self):
        for what, argv in self.commands:
            log.info("bootstrap: starting the agent of %s: %s", what, shlex.join(argv))
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv, stdin=asyncio.subprocess.PIPE if self.method == "ssh"
                    else asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True)
            except OSError as exc:
                log.error("bootstrap: cannot start the agent of %s: %s: %s", what, argv[0],
                          exc.strerror or exc)
                continue
            self.processes.append(process)
            self._watchers.append(asyncio.ensure_future(self._watch(what, process)))

    async def _watch(self, what: str, process):
        tail = collections.deque(maxlen=TAIL_LINES)
        async for line in process.stdout:
            text = line.decode(errors="replace").rstrip()
            tail.append(text)
            log.debug("bootstrap: %s: %s", what, text)
        status = await process.wait()
        if not self._stopping:
            log.error("bootstrap: the agent of %s exited with status %d%s", what, status,
                      ": " + " / ".join(tail) if tail else "")

    async def stop(self):
        """End the agents: close their lifeline (ssh) and SIGTERM the process group of what
        started them, then SIGKILL what is left of it after `STOP_GRACE` seconds."""
        self._stopping = True
        for process in self.processes:
            if process.stdin is not None:
                process.stdin.close()
            _signal_group(process, signal.SIGTERM)
        if not self._watchers:
            return
        _, pending = await asyncio.wait(self._watchers, timeout=STOP_GRACE)
        for process in self.processes:
            _signal_group(process, signal.SIGKILL)
        # Output still open elsewhere (a child that left the group) is not waited for.
        for watcher in pending:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)


def _signal_group(process, signum: int):
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def exit_on_eof():
    """The agent's side of the ssh lifeline: SIGTERM this process (a clean stop) once its
    standard input reaches its end; a thread waits for that.  Call it from the main thread
    before the agent's event loop starts: until the loop handles SIGTERM itself, a SIGTERM
    (an input that was closed from the start) exits with status 0, as there is nothing to
    stop yet."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))

    def wait():
        try:
            while os.read(0, 1 << 16):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait, name="exit-on-eof", daemon=True).start()
