"""Tasks that outlive their controller.

Tasks run in their own process groups, so a controller killed with SIGKILL leaves them
running.  Every task carries the instance's ``CORRAL_URI`` and its ``CORRAL_JOB_ID`` in its
environment; the next controller of the same instance (same state directory, so the same
URI) finds them in ``/proc`` and kills their process groups before it ends those jobs.  The
same is done for the tasks a local node agent process leaves when it dies (`corral.agent.local`):
nothing could report their ends.  Nothing is recorded per task while jobs run, so this costs
nothing until a restart.
"""

import logging
import os
import signal

log = logging.getLogger("corral.exec")


def _environ(pid: str) -> bytes | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            return file.read()
    except OSError:
        return None


def find(uri: str, job_ids=None) -> list[int]:
    """Pids of processes whose environment says they are tasks of the instance at ``uri``
    (of the jobs ``job_ids`` only, when given)."""
    marker = b"\0CORRAL_URI=" + uri.encode() + b"\0"
    jobs = None if job_ids is None else {
        b"\0CORRAL_JOB_ID=" + str(job_id).encode() + b"\0" for job_id in job_ids}
    own = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdecimal() or int(entry) == own:
            continue
        environ = _environ(entry)
        if environ is None:
            continue
        environ = b"\0" + environ
        if marker not in environ or b"\0CORRAL_JOB_ID=" not in environ:
            continue
        if jobs is None or any(job in environ for job in jobs):
            found.append(int(entry))
    return found


def kill_orphans(uri: str, job_ids=None) -> int:
    """SIGKILL the process groups of tasks a previous controller of this instance left (or,
    with ``job_ids``, that a node agent which died left, of those jobs)."""
    if job_ids is not None and not job_ids:
        return 0
    groups = set()
    for pid in find(uri, job_ids):
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            continue
    groups.discard(os.getpgrp())
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if groups:
        log.warning("killed %d task process groups left by %s", len(groups),
                    "the previous controller" if job_ids is None else "a dead node agent")
    return len(groups)
