"""One instance per state directory: an exclusive lock held for the instance's life.

Two controllers on one state directory would share one store, one socket path and one set
of orphaned tasks: the second would kill the first's jobs as orphans, take its socket and
collide in the store.  So the first thing an instance does with its state directory is to
take ``flock(LOCK_EX)`` on the ``lock`` file in it, and it keeps the descriptor open until it
has stopped.  The kernel drops the lock when the process dies however it dies, so a lock left
by a controller killed with SIGKILL never refuses the next start.  The file holds the pid of
the holder, for the refusal message; it is never removed (removing a lock file lets two
processes each lock a different inode).
"""

import errno
import fcntl
import os

LOCK_FILE = "lock"


class StateDirLockError(Exception):
    """The state directory cannot be taken: another live instance holds it, or its lock
    file cannot be opened; ``str()`` says which, in one line."""


class StateDirLock:
    """The held lock of one state directory; `release` (or process exit) gives it up."""

    def __init__(self, state_dir: str):
        path = os.path.join(state_dir, LOCK_FILE)
        # Not truncated on open: the holder's pid must survive a refused attempt.  Opened
        # close-on-exec, so tasks never inherit the lock, and never through a link.
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StateDirLockError(f"{path}: cannot open the lock file: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StateDirLockError(f"{path}: cannot lock: {exc.strerror}") from None
            who = f"corral pid {holder}" if holder else "another corral instance"
            raise StateDirLockError(f"{state_dir} is in use by {who}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdecimal() else None
