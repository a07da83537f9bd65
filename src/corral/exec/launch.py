"""Starting and reaping task processes without a Python process per task.

A task is started with `subprocess.Popen` (vfork + exec when no identity change is needed),
in its own process group so that signals reach everything it starts, pinned to its cores by
setting the calling thread's affinity around the spawn (the child inherits it), with stdout
and stderr on file descriptors the agent opened.  Exit is noticed through a pidfd on the
event loop, so waiting costs nothing while tasks run.
"""

import os
import subprocess

_MACHINE_CPUS = frozenset(os.sched_getaffinity(0))
#: One /dev/null for every task's stdin, instead of an open per task.
_DEV_NULL = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)


#: Seconds between two looks at a task that could not get a pidfd.
_EXIT_POLL_INTERVAL = 0.2


class Task:
    """One running process: its pid, process group and wait status once reaped."""

    __slots__ = ("rank", "popen", "pid", "pidfd", "status", "on_exit")

    def __init__(self, rank: int, popen: subprocess.Popen, on_exit):
        self.rank = rank
        self.popen = popen
        self.pid = popen.pid
        self.pidfd = None
        self.status = None
        self.on_exit = on_exit

    def signal(self, signum: int):
        """Signal the task's whole process group (it may have started children)."""
        if self.status is not None:
            return
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            pass


def raise_open_file_limit():
    """Every running task holds a pidfd and two output pipes in the process of its node
    agent (the controller's, or a ``corral agent``): take the hard limit on open files (the
    soft one is often 1,024)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def usable_cpus(cores) -> set[int] | None:
    """The cores this machine really has among ``cores`` (configured nodes may declare
    more cores than exist); None when none exist, so the task is not pinned."""
    cpus = _MACHINE_CPUS.intersection(cores)
    return cpus or None


def spawn(loop, rank, argv, env, cwd, cpus, stdout_fd, stderr_fd, on_exit, identity=None,
          stdin_fd=None):
    """Start one task; ``on_exit(task)`` runs on the loop once it has been reaped.  Its
    stdin is /dev/null unless ``stdin_fd`` is given.

    ``identity`` is ``(uid, gid, groups)`` when the task must run as another user.  The
    child enters ``cwd`` before it changes identity, with root's rights: the agent passes a
    directory it opened with the user's (``/proc/self/fd/N``).  Raises OSError (with the
    command in the message) when the task cannot start.
    """
    kwargs = {}
    if identity is not None:
        uid, gid, groups = identity
        kwargs = {"user": uid, "group": gid, "extra_groups": groups}
    if cpus is not None:
        saved = os.sched_getaffinity(0)
        os.sched_setaffinity(0, cpus)
    try:
        popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=_DEV_NULL if stdin_fd is None else stdin_fd,
            stdout=stdout_fd,
            stderr=stderr_fd,
            close_fds=True,
            process_group=0,
            **kwargs,
        )
    finally:
        if cpus is not None:
            os.sched_setaffinity(0, saved)
    task = Task(rank, popen, on_exit)
    try:
        task.pidfd = os.pidfd_open(task.pid)
    except OSError:
        # The pid cannot be watched (it already exited and was reaped elsewhere, or no file
        # descriptor is left): reap it now or, while it runs, by polling.
        _poll_exit(loop, task)
        return task
    loop.add_reader(task.pidfd, _reap, loop, task)
    return task


def _poll_exit(loop, task: Task):
    _reap(loop, task)
    if task.status is None:
        loop.call_later(_EXIT_POLL_INTERVAL, _poll_exit, loop, task)


def _reap(loop, task: Task):
    try:
        pid, status = os.waitpid(task.pid, os.WNOHANG)
    except ChildProcessError:
        pid, status = task.pid, 0
    if pid == 0:
        return
    if task.pidfd is not None:
        loop.remove_reader(task.pidfd)
        os.close(task.pidfd)
        task.pidfd = None
    task.status = status
    task.popen.returncode = os.waitstatus_to_exitcode(status)
    task.on_exit(task)
