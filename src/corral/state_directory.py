"""The state directory's permissions: private to the instance, whatever the umask.

It holds every jobspec (environments, secrets included), every eventlog and the output of
every job, and the instance runs as root for many users.  So the directory is 0700 and its
files 0600; when guests may connect it is 0711 instead, so that they can reach the socket
(0777, access is decided per peer) by its name but list and open nothing else: the store is
0600 and the output directory 0700, and output files belong to their job's user.

A directory that someone else owns or can write to is refused rather than tightened: its
files could have been planted (a store that is a link to another file), and tightening a
shared directory such as /tmp would break the machine.
"""

import errno
import logging
import os
import stat

log = logging.getLogger("corral")

STORE_FILES = ("corral.db", "corral.db-wal", "corral.db-shm")


class StateDirectoryError(Exception):
    """The state directory cannot be used; ``str()`` is one line saying why."""


def create(path: str):
    """Create ``path`` if it is missing and check that it is the instance's own; change
    nothing in a directory that exists (another instance may be using it)."""
    try:
        _create(path)
    except OSError as exc:
        where = exc.filename or path
        if where != path:  # a directory above it is missing, or is not one
            raise StateDirectoryError(f"cannot create state directory {path}: {where}: "
                                      f"{exc.strerror}") from None
        raise StateDirectoryError(f"state directory {where}: {exc.strerror}") from None


def prepare(path: str, guests: bool) -> str:
    """Make ``path`` the instance's private state directory (creating it) and return its
    output directory.  SQLite gives its WAL and shared-memory files the store's mode."""
    try:
        return _prepare(path, guests)
    except OSError as exc:
        where = exc.filename or path
        raise StateDirectoryError(f"state directory {where}: {exc.strerror}") from None


def create_socket_directory(path: str):
    """Create the directory of a socket kept outside the state directory (the system
    instance's ``/run/corral``): 0755, the instance's own, writable by no one else (who
    could replace the socket with one of theirs)."""
    try:
        os.makedirs(path, 0o755, exist_ok=True)
        info = os.stat(path)
        if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise StateDirectoryError(f"socket directory {path} must belong to uid "
                                      f"{os.geteuid()} and be writable by no other user")
        os.chmod(path, 0o755)
    except OSError as exc:
        raise StateDirectoryError(f"socket directory {exc.filename or path}: "
                                  f"{exc.strerror}") from None


def _create(path: str):
    parent = os.path.dirname(path)
    try:
        os.makedirs(parent, exist_ok=True)
    except FileExistsError as exc:  # the parent, or one above it, is a file
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR),
                                 exc.filename or parent) from None
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise StateDirectoryError(f"state directory {path} is not a directory")
    owner = os.geteuid()
    if info.st_uid != owner:
        raise StateDirectoryError(f"state directory {path} belongs to uid {info.st_uid}, not "
                                  f"to the instance's user (uid {owner})")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StateDirectoryError(f"state directory {path} is writable by other users; give "
                                  "the instance a directory of its own")


def _prepare(path: str, guests: bool) -> str:
    _create(path)
    os.chmod(path, 0o711 if guests else 0o700)
    output_dir = os.path.join(path, "output")
    os.makedirs(output_dir, exist_ok=True)
    os.chmod(output_dir, 0o700)
    for name in STORE_FILES:
        try:
            fd = os.open(os.path.join(path, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
                         | (os.O_CREAT if name == "corral.db" else 0), 0o600)
        except FileNotFoundError:
            continue
        os.fchmod(fd, 0o600)
        os.close(fd)
    return output_dir


def warn_if_unreachable(socket_path: str):
    """Say so at start when guests may connect but a directory above the socket keeps them
    out (a temporary directory under a private ``TMPDIR``, say)."""
    directory = os.path.dirname(os.path.abspath(socket_path))
    parents = []
    while True:
        parents.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for directory in reversed(parents):
        if not os.stat(directory).st_mode & stat.S_IXOTH:
            log.warning("guests cannot reach the socket %s: %s is not searchable by other "
                        "users", socket_path, directory)
            return
