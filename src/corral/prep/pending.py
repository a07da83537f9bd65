"""Counting the asynchronous work a job's controller prolog or epilog still owes.

Slurm keeps ``prep_prolog_cnt`` / ``prep_epilog_cnt`` and ``prep_prolog_failed`` on the job
record: every unit a controller hook promised adds one, every callback takes one away, and
the job goes on when the count is back at zero, requeued if any unit failed. `PendingUnits`
is that bookkeeping for one kind of hook, on the controller's event loop (callbacks reach it
through the loop, never directly from a plugin's thread); `is_failure` is Slurm's reading of a
callback's status. This module must not decide what happens to the job.
"""

import logging
import os

from ..waitstatus import exit_and_signal
from .constants import CallType

log = logging.getLogger("corral.prep")


def is_failure(rc: int, timed_out: bool) -> bool:
    """Whether a callback's ``rc`` (a wait status) reports a failure, as Slurm reads it.

    A non-zero exit is a failure; death by a signal is one only if the hook timed out (a
    signal alone means the job was cancelled or the daemon stopped). A value that is neither
    an exit nor a signal status (``prep.ERROR``, the 127 of a script that could not start)
    is a failure too; Slurm would let it pass as success.
    """
    if rc == 0:
        return False
    if rc > 0 and os.WIFSIGNALED(rc):
        return timed_out
    return True


class PendingUnits:
    """The outstanding asynchronous units of one hook (``kind``) for every job that has any."""

    def __init__(self, kind: CallType):
        self.kind = kind
        self._jobs: dict[int, list] = {}  # job id -> [units left, any failure]

    def __contains__(self, job_id: int) -> bool:
        return job_id in self._jobs

    def owed(self) -> dict[int, int]:
        """``{job id: units left}`` of the jobs still owed callbacks."""
        return {job_id: entry[0] for job_id, entry in self._jobs.items()}

    def start(self, job_id: int, units: int) -> bool:
        """Record the ``units`` the hook promised for ``job_id``; True if there are any (the
        job must wait for them)."""
        if units > 0:
            self._jobs[job_id] = [units, False]
        return units > 0

    def report(self, rc: int, job_id: int, timed_out: bool) -> bool | None:
        """Take one unit away for a callback (its arguments, in its order). Returns None while
        units remain (or when the job owes none), else whether any of its units failed."""
        entry = self._jobs.get(job_id)
        name = self.kind.name.lower()
        if entry is None:
            log.warning("prep: %s callback for job %d, which waits for none", name, job_id)
            return None
        failed = is_failure(rc, timed_out)
        if failed and self.kind == CallType.PROLOG_SLURMCTLD:
            log.error("prep: prolog_slurmctld JobId=%d prolog exit status %d:%d%s", job_id,
                      *_exit_and_signal(rc), " (timed out)" if timed_out else "")
        elif timed_out:
            log.error("prep: %s JobId=%d timed out", name, job_id)
        entry[0] -= 1
        entry[1] = entry[1] or failed
        if entry[0] > 0:
            return None
        del self._jobs[job_id]
        return entry[1]

    def discard(self, job_id: int) -> None:
        """Forget ``job_id`` (it is gone); callbacks still due for it are then ignored."""
        self._jobs.pop(job_id, None)


def _exit_and_signal(rc: int) -> tuple[int, int]:
    """A hook's status as Slurm's ``exit:signal``; a status that is no wait status (an
    error code) stays the exit part."""
    return exit_and_signal(rc) if rc > 0 else (rc, 0)
