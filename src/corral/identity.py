"""A job's user, as the controller acts for it: who that is, and opening a path with its rights.

Tasks change identity themselves before they exec, but the controller must open some paths on
a job's behalf: the working directory its tasks start in, the ``-o``/``-e`` files they write
and the files ``corral job attach`` serves.  Opened as root, any user could reach any file
through them.  So they are opened with the job user's filesystem identity, set on the calling
thread alone: Linux keeps credentials per thread, ``setfsuid(2)`` and ``setfsgid(2)`` change
only the caller's, and the group list is set with the raw ``setgroups`` system call (glibc's
wrapper changes every thread of the process).  The thread takes root's rights back before
`open_as` returns, whatever happened.

`spawn_as` starts a task as its user the same way: the calling thread takes the user's real
and effective ids (raw ``setresgid``/``setresuid``, again per thread) for the one system call
that starts the process, which inherits them, and takes root's back.  Root stays the thread's
saved uid meanwhile, so that it can; the task cannot, because the exec that starts its program
makes the saved uid the effective one, the user's.
"""

import ctypes
import errno
import functools
import os
import platform
import pwd
import time

#: ``setgroups``, ``setresuid`` and ``setresgid`` system call numbers (per thread, unlike
#: glibc's wrappers).
_CALLS = {"x86_64": (116, 117, 119), "aarch64": (159, 147, 149), "riscv64": (159, 147, 149),
          "loongarch64": (159, 147, 149)}
_NO_ID = 0xFFFFFFFF  # an invalid id: setfsuid(-1) only answers the current one
#: Seconds a user's ids and groups are used before they are looked up again.
USER_CACHE_SECONDS = 60.0
_users: dict[int, tuple[float, tuple]] = {}  # uid -> (until, identity)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.setfsuid.argtypes = _libc.setfsgid.argtypes = [ctypes.c_uint]
_setgroups_call, _setresuid_call, _setresgid_call = _CALLS.get(platform.machine(),
                                                               (None, None, None))


@functools.lru_cache(maxsize=256)
def home(userid: int) -> str:
    """The user's home directory, ``/`` for a uid the password database does not know
    (looked up once per user: reading the password database cost more than a job's other
    work)."""
    try:
        return pwd.getpwuid(userid).pw_dir
    except KeyError:
        return "/"


def of_user(userid: int):
    """``(uid, gid, groups)`` to act as ``userid``; None when that is the controller's own
    user, whose rights it already has.  Raises OSError when the controller, not being root,
    cannot act as another user.

    A user's entry and groups are looked up at most once per `USER_CACHE_SECONDS` (the
    lookups cost more than starting a task; slurmd caches group lists too): a change to
    ``/etc/group`` reaches new tasks within that time."""
    own_uid = os.geteuid()
    if userid == own_uid:
        return None
    if own_uid != 0:
        raise OSError(errno.EPERM, f"cannot act as uid {userid}: the controller does not run "
                                   "as root")
    now = time.monotonic()
    cached = _users.get(userid)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        entry = pwd.getpwuid(userid)
    except KeyError:
        raise OSError(errno.ESRCH, f"uid {userid} is not a user of this machine") from None
    identity = (userid, entry.pw_gid, os.getgrouplist(entry.pw_name, entry.pw_gid))
    _users[userid] = (now + USER_CACHE_SECONDS, identity)
    return identity


def open_as(identity, path: str, flags: int, mode: int = 0o600) -> int:
    """``os.open(path, flags, mode)`` with the rights of ``identity`` (from `of_user`; None:
    the controller's own); a file it creates belongs to that user."""
    if identity is None:
        return os.open(path, flags, mode)
    uid, gid, groups = identity
    saved_groups = os.getgroups()
    _set_thread_groups(groups)
    try:
        saved_gid = _libc.setfsgid(gid)
        saved_uid = _libc.setfsuid(uid)
        try:
            if _libc.setfsuid(_NO_ID) != uid or _libc.setfsgid(_NO_ID) != gid:
                raise OSError(errno.EPERM, f"cannot take the identity of uid {uid}")
            return os.open(path, flags, mode)
        finally:
            _libc.setfsuid(saved_uid)
            _libc.setfsgid(saved_gid)
    finally:
        _set_thread_groups(saved_groups)


def spawn_as(identity, spawn, *args, **kwargs):
    """``spawn(*args, **kwargs)`` (a call that starts a process) on this thread with the real
    and effective ids and groups of ``identity`` (from `of_user`; None: the controller's
    own), which the process it starts inherits."""
    if identity is None:
        return spawn(*args, **kwargs)
    uid, gid, groups = identity
    saved_uids, saved_gids, saved_groups = os.getresuid(), os.getresgid(), os.getgroups()
    _set_thread_groups(groups)
    try:
        _thread_ids(_setresgid_call, (gid, gid, gid))
        try:
            _thread_ids(_setresuid_call, (uid, uid, 0))
            try:
                return spawn(*args, **kwargs)
            finally:
                # Root is the thread's saved uid, so this cannot fail; if it did, the thread
                # would go on with the user's rights: stop the process instead.
                try:
                    _thread_ids(_setresuid_call, saved_uids)
                except OSError as exc:
                    raise SystemExit(f"cannot take root's rights back: {exc.strerror}") \
                        from None
        finally:
            _thread_ids(_setresgid_call, saved_gids)
    finally:
        _set_thread_groups(saved_groups)


def _thread_ids(call, ids):
    """``setresuid`` or ``setresgid`` (``call``) of the calling thread alone."""
    if call is None:
        raise OSError(errno.ENOSYS, f"cannot act as another user on {platform.machine()}")
    if _libc.syscall(call, *map(ctypes.c_uint, ids)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"cannot take the ids {ids}: {os.strerror(code)}")


def _set_thread_groups(groups):
    if _setgroups_call is None:
        raise OSError(errno.ENOSYS, f"cannot act as another user on {platform.machine()}")
    array = (ctypes.c_uint * max(len(groups), 1))(*groups)
    if _libc.syscall(_setgroups_call, len(groups), array) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"cannot set the groups of a thread: {os.strerror(code)}")
