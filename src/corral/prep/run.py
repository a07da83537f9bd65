"""Running one PrEp script as Slurm's run_command does, and killing scripts that must stop.

A script runs with ``argv = [path]``, the environment it is given and nothing else, stdin
``/dev/null``, stdout and stderr merged into one pipe that is read only for the log, in a
process group of its own, with every descriptor above 2 closed, in the daemon's own cwd. A path
that is empty, relative, missing or not readable and executable is not started: its status is
127 (a raw value that is neither an exit nor a signal, as Slurm reports it). The script counts
as running until its pipe closes, so a background child holding the pipe keeps it running; on
timeout its process group gets SIGTERM, 10 ms later SIGKILL. When it ends its process group is
killed too, so nothing it left behind survives it.

`run_script` blocks its thread until the script is done: node hooks call it from the agent's
worker thread, controller scripts each get a thread of their own. It must not decide what a
status means, with one exception: an environment that no script could be started with (a
variable name with ``=``, a NUL, a string or a whole environment over the kernel's limits)
comes from the job, not from the node, so it raises `UnusableJobInput` instead of reporting
the failed start that would drain the node.
"""

import errno
import logging
import os
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from ..limits import MAX_EXEC_STRING

log = logging.getLogger("corral.prep.script")

#: The status of a script that could not be started (Slurm's run_command sets 127).
NOT_RUN = 127
#: Slurm's pause between the SIGTERM and the SIGKILL of a script that timed out.
KILL_DELAY = 0.010
#: Output kept for the log; the rest is read (so the script never blocks) and dropped.
OUTPUT_LIMIT = 64 * 1024

_CONFIGURATION_ERROR = "Run command failed - configuration error"


class UnusableJobInput(ValueError):
    """A script cannot be started with what the job gave it (its environment, cwd or paths):
    the job fails, the node is not to blame."""


@dataclass(frozen=True, slots=True)
class ScriptResult:
    """``status`` is the raw wait status (or `NOT_RUN`); ``output`` is stdout and stderr."""

    status: int
    output: str
    timed_out: bool = False


class RunningScripts:
    """The process groups of scripts still running, by job, so they can be killed together
    (a job cancelled during its controller prolog, or the daemon shutting down)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_job: dict[int, set[int]] = {}

    def add(self, job_id: int, pid: int) -> None:
        with self._lock:
            self._by_job.setdefault(job_id, set()).add(pid)

    def remove(self, job_id: int, pid: int) -> None:
        with self._lock:
            pids = self._by_job.get(job_id)
            if pids is not None:
                pids.discard(pid)
                if not pids:
                    del self._by_job[job_id]

    def kill_job(self, job_id: int) -> int:
        """SIGKILL the scripts of ``job_id``; return how many there were."""
        with self._lock:
            pids = list(self._by_job.get(job_id, ()))
        for pid in pids:
            _signal_group(pid, signal.SIGKILL)
        return len(pids)

    def kill_all(self) -> None:
        with self._lock:
            pids = [pid for group in self._by_job.values() for pid in group]
        for pid in pids:
            _signal_group(pid, signal.SIGKILL)


def run_script(path: str, env: dict[str, str], timeout: float | None, kind: str, job_id: int,
               running: RunningScripts | None = None) -> ScriptResult:
    """Run the script at ``path`` and wait for it (``timeout`` seconds at most, None: no
    limit). ``kind`` names the script in log lines (``prolog``, ``PrologSlurmctld``...)."""
    problem = _unrunnable(path)
    if problem is not None:
        log.error("JobId=%d %s: %s: %s", job_id, kind, path or "(no path)", problem)
        return ScriptResult(NOT_RUN, _CONFIGURATION_ERROR)
    problem = _unpassable(env)
    if problem is not None:
        log.error("JobId=%d %s: %s: not started: %s", job_id, kind, path, problem)
        raise UnusableJobInput(f"{kind} cannot be started with this job's environment: "
                               f"{problem}")
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            [path], executable=path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, close_fds=True, process_group=0,
        )
    except OSError as exc:
        if exc.errno == errno.E2BIG:
            log.error("JobId=%d %s: %s: not started: %s", job_id, kind, path, exc.strerror)
            raise UnusableJobInput(f"{kind} cannot be started with this job's environment: "
                                   f"{exc.strerror}") from None
        # The child could not exec; in Slurm it exits 127.
        log.error("JobId=%d %s: execve(%s): %s", job_id, kind, path, exc.strerror or exc)
        return ScriptResult(NOT_RUN << 8, f"execve failed: {exc.strerror or exc}")
    if running is not None:
        running.add(job_id, process.pid)
    try:
        deadline = None if timeout is None else started + timeout
        output, timed_out = _read_until_closed(process.stdout.fileno(), deadline)
        if timed_out:
            log.error("JobId=%d %s poll timeout @ %d msec", job_id, kind, timeout * 1000)
            status = _kill_and_reap(process)
        else:
            status, timed_out = _reap_before(process, deadline)
            if timed_out:
                log.error("JobId=%d %s timeout after %d ms: killing pgid %d", job_id, kind,
                          timeout * 1000, process.pid)
    except BaseException:
        if process.returncode is None:
            _kill_and_reap(process)  # nothing may outlive a caller that gave up on it
        raise
    finally:
        process.stdout.close()
        if running is not None:
            running.remove(job_id, process.pid)
    return ScriptResult(status, output.decode(errors="replace"), timed_out)


def _unpassable(env: dict[str, str]) -> str | None:
    """Why ``execve`` could not pass ``env`` (the whole environment is left to E2BIG)."""
    for name, value in env.items():
        if not name or "=" in name or "\0" in name or "\0" in value:
            return f"variable {name[:64]!r} has an empty name, '=' in its name or a NUL"
        if len(name.encode(errors="replace")) + len(value.encode(errors="replace")) + 1 > \
                MAX_EXEC_STRING:
            return f"variable {name[:64]!r} is over the {MAX_EXEC_STRING} byte limit"
    return None


def _unrunnable(path: str) -> str | None:
    if not path:
        return "no script specified"
    if not os.path.isabs(path):
        return "not a fully qualified pathname"
    if not os.access(path, os.R_OK | os.X_OK):
        reason = os.strerror(errno.ENOENT if not os.path.exists(path) else errno.EACCES)
        return f"cannot be executed: {reason}"
    return None


def _read_until_closed(fd: int, deadline: float | None) -> tuple[bytes, bool]:
    """Read ``fd`` to end of file; ``(output, True)`` if the deadline came first."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    chunks: list[bytes] = []
    kept = 0
    while True:
        if deadline is None:
            wait_ms = None
        else:
            wait_ms = (deadline - time.monotonic()) * 1000
            if wait_ms <= 0:
                return b"".join(chunks), True
        if not poller.poll(wait_ms):
            continue
        data = os.read(fd, 65536)
        if not data:
            return b"".join(chunks), False
        if kept < OUTPUT_LIMIT:
            chunks.append(data[:OUTPUT_LIMIT - kept])
            kept += len(chunks[-1])


def _reap_before(process: subprocess.Popen, deadline: float | None) -> tuple[int, bool]:
    """Wait for a script whose pipe closed; ``(status, True)`` if it had to be killed."""
    if deadline is not None:
        pidfd = os.pidfd_open(process.pid)
        try:
            remaining_ms = max((deadline - time.monotonic()) * 1000, 0)
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            exited = bool(poller.poll(remaining_ms))
        finally:
            os.close(pidfd)
        if not exited:
            return _kill_and_reap(process), True
    status = _reap(process)
    _kill_group(process.pid)  # what it left behind goes with it
    return status, False


def _kill_and_reap(process: subprocess.Popen) -> int:
    _kill_group(process.pid)
    return _reap(process)


def _kill_group(pid: int) -> None:
    """SIGTERM the process group, and SIGKILL it 10 ms later unless it was already empty."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    time.sleep(KILL_DELAY)
    _signal_group(pid, signal.SIGKILL)


def _reap(process: subprocess.Popen) -> int:
    """Wait for ``process`` and return its raw wait status (Popen keeps only the exit code)."""
    while True:
        try:
            _pid, status = os.waitpid(process.pid, 0)
        except InterruptedError:
            continue
        process.returncode = os.waitstatus_to_exitcode(status)
        return status


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
