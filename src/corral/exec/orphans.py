"""Tasks that outlive their controller.

Tasks run in their own process groups, so a controller killed with SIGKILL leaves them
running.  Every task carries the instance's ``CORRAL_URI`` and its ``CORRAL_JOB_ID`` in its
environment; the next controller of the same instance (same state directory, so the same
URI) finds them in ``/proc`` and kills their process groups before it ends those jobs.
Nothing is recorded per task while jobs run, so this costs nothing until a restart.
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


def find(uri: str) -> list[int]:
    """Pids of processes whose environment says they are tasks of the instance at ``uri``."""
    marker = b"\0CORRAL_URI=" + uri.encode() + b"\0"
    own = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == own:
            continue
        environ = _environ(entry)
        if environ is None:
            continue
        environ = b"\0" + environ
        if marker in environ and b"\0CORRAL_JOB_ID=" in environ:
            found.append(int(entry))
    return found


def kill_orphans(uri: str) -> int:
    """SIGKILL the process groups of tasks a previous controller of this instance left."""
    groups = set()
    for pid in find(uri):
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
        log.warning("killed %d task process groups left by the previous controller",
                    len(groups))
    return len(groups)
