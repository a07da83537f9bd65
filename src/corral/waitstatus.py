"""A job's wait status as a shell reports it: the one decoding the commands share.

The job manager keeps the raw ``waitpid`` status (RFC 21's ``finish`` context); users read an
exit code, or 128+N for a task killed by signal N (``corral run``'s exit status, the
``returncode`` field of ``corral jobs``).
"""

import os


def returncode(status: int | None) -> int | None:
    """The exit code of wait status ``status`` (128+N for signal N); None without one."""
    if status is None:
        return None
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)
