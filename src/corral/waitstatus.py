"""A job's wait status as a shell reports it: the one decoding the commands share.

The job manager keeps the raw ``waitpid`` status (RFC 21's ``finish`` context); users read an
exit code, or 128+N for a task killed by signal N (``corral run``'s exit status, the
``returncode`` field of ``corral jobs``), and Slurm's users the ``exit:signal`` pair (sacct's
``ExitCode``, ``SLURM_JOB_EXIT_CODE2``, the controller's prolog and epilog logs).
"""

import os


def returncode(status: int | None) -> int | None:
    """The exit code of wait status ``status`` (128+N for signal N); None without one."""
    if status is None:
        return None
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def exit_and_signal(status: int) -> tuple[int, int]:
    """Slurm's ``exit:signal`` pair of wait status ``status``: ``(code, 0)`` for a process
    that exited, ``(0, N)`` for one killed by signal N, ``(0, 0)`` for anything else."""
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status), 0
    if os.WIFSIGNALED(status):
        return 0, os.WTERMSIG(status)
    return 0, 0
