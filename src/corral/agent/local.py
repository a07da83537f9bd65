"""The node agents of a persistent instance on this machine: ``corral agent`` processes of
their own, so that the jobs they run outlive a controller that stops or is killed.

A persistent instance (``corral start --state-dir DIR``) serves its nodes with one agent
process per node, connected over ``ipc://DIR/agents.sock`` with CURVE keys made in
``DIR/keys`` (0700) at the first start, and given the instance's configuration file
(``--config``), whose ``[prep]`` section gives the node hooks it runs, as every remote agent
reads its own.  An agent a previous controller left running keeps the hooks it loaded then.
Each agent runs in a session of its own, so a
signal meant for the controller (Ctrl-C, a kill of its process group) does not reach it, and
writes its log to ``DIR/agents/NODE.log``; its pid is kept in ``DIR/agents/NODE.pid``, so the
next controller finds the agents still running and serves them again instead of starting
others (those it starts anew are in `started_anew`: the tasks their dead predecessors left
are the controller's to kill).

The controller supervises them, as a service manager does slurmd: an agent that exits while
the controller runs is started again (the tasks it left are killed, as nothing could report
their ends, and its jobs fail with ``node-fail`` when the new agent registers), after
`RESTART_DELAY` seconds, doubled after each exit that comes sooner than `STEADY_AFTER`
seconds after its start, up to `RESTART_DELAY_MAX`.  A clean stop of the controller stops
the agents when no job runs, and leaves them running, with their jobs, when some do (slurmd
outlives slurmctld); an agent that no controller reaches for ``[agents] reattach-timeout``
then kills its tasks and exits (``--exit-alone``): the next controller starts another.
"""

import asyncio
import logging
import os
import signal
import subprocess
import sys

from ..transport import keys

log = logging.getLogger("corral.agent")

#: Seconds before an agent that exited is started again, doubled up to the maximum while
#: agents keep exiting soon after their start.
RESTART_DELAY = 0.5
RESTART_DELAY_MAX = 30.0
#: Seconds an agent runs before its exit is no longer counted as a failure to start.
STEADY_AFTER = 10.0
#: Seconds a clean stop waits for an agent to exit after SIGTERM, before SIGKILL.
STOP_TIMEOUT = 5.0


class LocalAgent:
    """One node's agent process: started, watched through a pidfd, started again."""

    __slots__ = ("name", "pid", "pidfd", "started_at", "restart_delay", "restart")

    def __init__(self, name: str):
        self.name = name
        self.pid = None
        self.pidfd = None
        self.started_at = 0.0
        self.restart_delay = RESTART_DELAY
        self.restart = None  # the timer of a restart to come


class LocalAgents:
    def __init__(self, state_dir: str, names, settings, reattach_timeout: float,
                 config_path: str | None = None, on_exit=None):
        """Agents for nodes ``names``, with the transport ``settings`` of the controller and
        the PrEp node hooks of the configuration at ``config_path`` (the instance's; None:
        none); ``on_exit(rank)`` when the agent of rank ``rank`` has died (its tasks are
        left)."""
        self.on_exit = on_exit
        self.directory = os.path.join(state_dir, "agents")
        self.key_dir = os.path.join(state_dir, "keys")
        self.endpoint = f"ipc://{os.path.join(state_dir, 'agents.sock')}"
        self.settings = settings
        self.reattach_timeout = reattach_timeout
        self.config_path = config_path
        self.agents = [LocalAgent(name) for name in names]
        self.ranks = {agent.name: rank for rank, agent in enumerate(self.agents)}
        self.stopping = False
        #: Ranks whose agent `start` did not find running (none left, or it had died).
        self.started_anew: list[int] = []
        self.loop = None

    def prepare_keys(self):
        """Make the keys of the controller and of each node where missing (OSError)."""
        keys.create(self.key_dir, [agent.name for agent in self.agents])

    def start(self):
        """Serve again the agents a previous controller left running; start the others."""
        self.loop = asyncio.get_running_loop()
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        adopted = 0
        for rank, agent in enumerate(self.agents):
            pid = self._running_agent(agent.name)
            if pid is not None and self._watch(agent, pid):
                adopted += 1
            else:
                self.started_anew.append(rank)
                self._spawn(agent)
        if adopted:
            log.info("agents: serving again %d agents left running by the last controller",
                     adopted)

    async def stop(self, jobs_running: int):
        """Stop the agents, unless jobs run: then they keep them for the next controller."""
        self.stopping = True
        for agent in self.agents:
            if agent.restart is not None:
                agent.restart.cancel()
        if jobs_running:
            log.info("agents: %d jobs run on; the node agents keep them for the next "
                     "controller", jobs_running)
            for agent in self.agents:
                self._unwatch(agent)
            return
        for agent in self.agents:
            if agent.pid is not None:
                _signal(agent.pid, signal.SIGTERM)
        deadline = self.loop.time() + STOP_TIMEOUT
        while any(agent.pidfd is not None for agent in self.agents):
            if self.loop.time() > deadline:
                for agent in self.agents:
                    if agent.pid is not None:
                        _signal(agent.pid, signal.SIGKILL)
                break
            await asyncio.sleep(0.02)
        for agent in self.agents:
            self._unwatch(agent)
            _remove(self._pid_file(agent.name))

    # --- processes ----------------------------------------------------------------------

    def _pid_file(self, name: str) -> str:
        return os.path.join(self.directory, f"{name}.pid")

    def _command(self, name: str) -> list[str]:
        settings = self.settings
        return [sys.executable, "-m", "corral", "agent", "--connect", self.endpoint,
                "--key-dir", self.key_dir, "--hostname", name,
                f"--heartbeat-interval={settings.heartbeat_interval}",
                f"--unresponsive-after={settings.unresponsive_after}",
                f"--lost-after={settings.lost_after}",
                f"--reattach-timeout={self.reattach_timeout}", "--exit-alone",
                *([f"--config={self.config_path}"] if self.config_path is not None else [])]

    def _running_agent(self, name: str) -> int | None:
        """The pid of the agent of ``name`` a previous controller started, if it still runs
        (its command line names this instance's endpoint and the node)."""
        try:
            with open(self._pid_file(name)) as file:
                pid = int(file.read())
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                argv = file.read().split(b"\0")
        except (OSError, ValueError):
            return None
        wanted = [self.endpoint.encode(), name.encode()]
        return pid if b"agent" in argv and all(word in argv for word in wanted) else None

    def _spawn(self, agent: LocalAgent):
        agent.restart = None
        log_path = os.path.join(self.directory, f"{agent.name}.log")
        try:
            with open(log_path, "ab") as output:
                process = subprocess.Popen(self._command(agent.name), stdin=subprocess.DEVNULL,
                                           stdout=output, stderr=output,
                                           start_new_session=True)
        except OSError as exc:
            log.error("agents: cannot start the agent of node %s: %s", agent.name,
                      exc.strerror or exc)
            self._schedule_restart(agent)
            return
        with open(self._pid_file(agent.name), "w") as file:
            file.write(f"{process.pid}\n")
        # Its exit is watched through a pidfd, which reaps it too; the Popen is not needed.
        process.returncode = 0
        if not self._watch(agent, process.pid):
            self._schedule_restart(agent)

    def _watch(self, agent: LocalAgent, pid: int) -> bool:
        try:
            agent.pidfd = os.pidfd_open(pid)
        except OSError:
            return False
        agent.pid = pid
        agent.started_at = self.loop.time()
        self.loop.add_reader(agent.pidfd, self._exited, agent)
        return True

    def _unwatch(self, agent: LocalAgent):
        if agent.pidfd is not None:
            self.loop.remove_reader(agent.pidfd)
            os.close(agent.pidfd)
        agent.pidfd = agent.pid = None

    def _exited(self, agent: LocalAgent):
        pid = agent.pid
        try:
            _, status = os.waitpid(pid, os.WNOHANG)
            how = _status_text(status)
        except ChildProcessError:  # started by a previous controller: not ours to reap
            how = "exited"
        self._unwatch(agent)
        if self.stopping:
            return
        ran = self.loop.time() - agent.started_at
        if ran >= STEADY_AFTER:
            agent.restart_delay = RESTART_DELAY
        log.error("agents: the agent of node %s (pid %d) %s after %.1f s; starting it again "
                  "in %.1f s", agent.name, pid, how, ran, agent.restart_delay)
        if self.on_exit is not None:
            self.on_exit(self.ranks[agent.name])
        self._schedule_restart(agent)

    def _schedule_restart(self, agent: LocalAgent):
        delay = agent.restart_delay
        agent.restart_delay = min(delay * 2, RESTART_DELAY_MAX)
        agent.restart = self.loop.call_later(delay, self._spawn, agent)


def _signal(pid: int, signum: int):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _remove(path: str):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _status_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
