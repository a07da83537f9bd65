"""Starting and reaping task processes without a Python process per task.

A task is started with the C library's ``posix_spawn`` (through ctypes), which is vfork +
exec: nothing of the agent's memory is copied, however large it is, and no Python code runs
between the two.  The spawn itself enters the task's working directory (a directory the agent
opened with the user's rights, ``posix_spawn_file_actions_addfchdir_np``), puts stdin, stdout
and stderr on descriptors the agent opened and closes every other
(``posix_spawn_file_actions_addclosefrom_np``), makes the task a process group of its own, so
that signals reach everything it starts, and gives it the default disposition of the signals
Python ignores (as `subprocess` does).  The rest is the spawning thread's, which the child
inherits and which is undone at once: the task's user's ids (`identity.spawn_as`) and the
cores it is pinned to (the thread's CPU affinity).  These need glibc 2.34 or later.

Exit is noticed through a pidfd on the event loop (`watch`), so waiting costs nothing while
tasks run.
"""

import ctypes
import errno
import os
import signal
from types import MappingProxyType

from .. import identity as identities
from . import watch

_MACHINE_CPUS = frozenset(os.sched_getaffinity(0))
#: One /dev/null for every task's stdin, instead of an open per task.
_DEV_NULL = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
#: A spawn that failed with these tries the next directory of ``PATH``, as execvp does.
_TRY_NEXT = (errno.ENOENT, errno.ENOTDIR, errno.EACCES)

#: Seconds between two looks at a task that could not get a pidfd.
_EXIT_POLL_INTERVAL = 0.2

_libc = ctypes.CDLL(None, use_errno=True)
if not all(hasattr(_libc, name) for name in ("posix_spawn_file_actions_addfchdir_np",
                                             "posix_spawn_file_actions_addclosefrom_np")):
    raise ImportError("corral starts tasks with posix_spawn file actions that need glibc "
                      "2.34 or newer")
#: Room for glibc's ``posix_spawnattr_t`` (336 bytes), ``posix_spawn_file_actions_t`` (80)
#: and ``sigset_t`` (128), with a margin.
_OPAQUE_SIZE = 512
_POSIX_SPAWN_SETPGROUP = 0x02
_POSIX_SPAWN_SETSIGDEF = 0x04
_POSIX_SPAWN_SETSIGMASK = 0x08


def _attributes():
    """The spawn attributes every task shares: a process group of its own, SIGPIPE and
    SIGXFSZ at their default, no signal blocked."""
    attributes = ctypes.create_string_buffer(_OPAQUE_SIZE)
    defaults = ctypes.create_string_buffer(_OPAQUE_SIZE)
    unblocked = ctypes.create_string_buffer(_OPAQUE_SIZE)
    _libc.posix_spawnattr_init(attributes)
    _libc.sigemptyset(defaults)
    _libc.sigemptyset(unblocked)
    for signum in (signal.SIGPIPE, signal.SIGXFSZ):
        _libc.sigaddset(defaults, signum)
    _libc.posix_spawnattr_setsigdefault(attributes, defaults)
    _libc.posix_spawnattr_setsigmask(attributes, unblocked)
    _libc.posix_spawnattr_setpgroup(attributes, 0)
    _libc.posix_spawnattr_setflags(attributes, ctypes.c_short(
        _POSIX_SPAWN_SETPGROUP | _POSIX_SPAWN_SETSIGDEF | _POSIX_SPAWN_SETSIGMASK))
    return attributes


_ATTRIBUTES = _attributes()


class Task:
    """One running process: its pid, process group and wait status once reaped."""

    __slots__ = ("rank", "pid", "pidfd", "status", "on_exit")

    def __init__(self, rank: int, pid: int, on_exit):
        self.rank = rank
        self.pid = pid
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


def spawn(loop, rank, argv, env, cwd_fd, cpus, stdout_fd, stderr_fd, on_exit, identity=None,
          stdin_fd=None, task_vars=None):
    """Start one task; ``on_exit(task)`` runs on the loop once it has been reaped.  Its
    stdin is /dev/null unless ``stdin_fd`` is given; its environment is ``env`` with
    ``task_vars`` over it.

    ``identity`` is ``(uid, gid, groups)`` when the task must run as another user.  The task
    starts in the directory ``cwd_fd``, which the agent opened with the user's rights.
    Raises OSError (with the command in the message) when the task cannot start.
    """
    task_vars = task_vars or {}
    envp = _environment(env, task_vars)
    if "PATH" in task_vars:
        env = {**env, **task_vars}
    actions = ctypes.create_string_buffer(_OPAQUE_SIZE)
    _libc.posix_spawn_file_actions_init(actions)
    try:
        for target, fd in enumerate((_DEV_NULL if stdin_fd is None else stdin_fd, stdout_fd,
                                     stderr_fd)):
            _libc.posix_spawn_file_actions_adddup2(actions, fd, target)
        _libc.posix_spawn_file_actions_addfchdir_np(actions, cwd_fd)
        _libc.posix_spawn_file_actions_addclosefrom_np(actions, 3)
        if cpus is not None:
            saved = os.sched_getaffinity(0)
            os.sched_setaffinity(0, cpus)
        try:
            pid = identities.spawn_as(identity, _spawn_first, argv[0],
                                      _candidates(argv[0], env), _arguments(argv), envp,
                                      actions)
        finally:
            if cpus is not None:
                os.sched_setaffinity(0, saved)
    finally:
        _libc.posix_spawn_file_actions_destroy(actions)
    task = Task(rank, pid, on_exit)
    try:
        task.pidfd = os.pidfd_open(pid)
    except OSError:
        # The pid cannot be watched (it already exited and was reaped elsewhere, or no file
        # descriptor is left): reap it now or, while it runs, by polling.
        _poll_exit(loop, task)
        return task
    watch.of(loop).add(task.pidfd, _reap, loop, task)
    return task


def _environment(env, task_vars: dict | None = None):
    """``env`` with ``task_vars`` over it as the C array of ``NAME=value`` strings a spawn
    takes (OSError, as the kernel would answer, for a name or value no environment can hold).

    Most of a task's environment is its submitter's, the same for every task of every job
    submitted with it: its entries are encoded once (`_ENTRIES`), where encoding and checking
    some forty of them for each task cost more than a third of a spawn's Python.  A transport
    hands every start naming one environment the same read-only mapping of it
    (`transport.shared`): that one's array is kept (`_kept_array`), and only the task's own
    variables are written into it, after the environment's (where a dict would put them, none
    being in it), which saves building an array of some forty pointers for each task."""
    task_vars = task_vars or {}
    if type(env) is MappingProxyType and len(task_vars) <= _ROOM \
            and env.keys().isdisjoint(task_vars):
        array = _kept_array(env)
        index = len(env)
        for item in task_vars.items():
            array[index] = _encoded(item)
            index += 1
        array[index] = None
        return array
    if task_vars:
        env = {**env, **task_vars}
    return _array(list(map(_encoded, env.items())))


def _kept_array(env: MappingProxyType):
    """The array of ``env`` followed by `_ROOM` free entries, made on its first spawn."""
    kept = _ARRAYS.get(id(env))
    if kept is not None and kept[0] is env:
        return kept[1]
    array = _array(list(map(_encoded, env.items())) + [None] * _ROOM)
    if len(_ARRAYS) >= _ARRAYS_KEPT:
        del _ARRAYS[next(iter(_ARRAYS))]
    _ARRAYS[id(env)] = (env, array)  # holding ``env``, whose id no other object can take
    return array


def _array(entries: list):
    entries.append(None)
    return (ctypes.c_char_p * len(entries))(*entries)


def _encoded(item: tuple) -> bytes:
    entry = _ENTRIES.get(item)
    if entry is None:  # names and values are strings (the job manager checked them)
        entry = _entry(*item)
        if len(_ENTRIES) >= _ENTRIES_KEPT:
            _ENTRIES.clear()
        _ENTRIES[item] = entry
    return entry


#: Encoded environment entries by ``(name, value)``, emptied when it holds `_ENTRIES_KEPT`.
_ENTRIES: dict[tuple, bytes] = {}
_ENTRIES_KEPT = 4096
#: ``id(env) -> (env, array)``: arrays of the last `_ARRAYS_KEPT` shared environments, with
#: room for `_ROOM` task variables after their own (a spawn reads its array only while it
#: runs, on the agent's one thread, so the next spawn may rewrite it).
_ARRAYS: dict[int, tuple] = {}
_ARRAYS_KEPT = 64
_ROOM = 16


def _entry(name: str, value: str) -> bytes:
    if "=" in name or "\0" in name or "\0" in value:
        raise OSError(errno.EINVAL, f"the environment variable {name!r} cannot be passed")
    return os.fsencode(f"{name}={value}")


def _arguments(argv: list[str]):
    words = [os.fsencode(word) for word in argv]
    words.append(None)
    return (ctypes.c_char_p * len(words))(*words)


def _candidates(program: str, env: dict) -> list[bytes]:
    """Where ``program`` may be: itself when it names a path, else in each directory of the
    task's own ``PATH`` (as `subprocess` looks, where ``posix_spawnp`` would use the
    agent's)."""
    if "/" in program:
        return [os.fsencode(program)]
    return [os.fsencode(os.path.join(directory, program))
            for directory in os.get_exec_path(env)]


def _spawn_first(program: str, candidates, argv, envp, actions) -> int:
    """The pid of the first of ``candidates`` started, with the thread's identity: one the
    user may not execute is passed over, as by execvp, and the first error that is not "not
    found" is the one raised."""
    pid = ctypes.c_int()
    error = errno.ENOENT
    for candidate in candidates:
        code = _cannot_execute(candidate) or _libc.posix_spawn(
            ctypes.byref(pid), candidate, actions, _ATTRIBUTES, argv, envp)
        if code == 0:
            return pid.value
        if code not in _TRY_NEXT:
            error = code
            break
        if error == errno.ENOENT:
            error = code
    raise OSError(error, os.strerror(error), program)


def _cannot_execute(candidate: bytes) -> int:
    """The error execve would give for ``candidate``, or 0 when the thread's identity may
    execute it: found without a spawn, since every spawn that fails is a whole vfork and
    exec (eight of them, a few milliseconds, for ``true`` at the end of a long ``PATH``)."""
    if os.access(candidate, os.X_OK):
        return 0
    try:
        os.stat(candidate)
    except OSError as exc:
        return exc.errno
    return errno.EACCES


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
        watch.of(loop).remove(task.pidfd)
        os.close(task.pidfd)
        task.pidfd = None
    task.status = status
    task.on_exit(task)
