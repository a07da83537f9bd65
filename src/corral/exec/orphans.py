"""Tasks that outlive their controller.

Tasks run in their own process groups, so a controller killed with SIGKILL leaves them
running.  The exec service records each running job's task pids, with their start times,
in the store; the next controller kills the process groups that still match (a pid with
another start time belongs to someone else by now) before it ends those jobs.
"""

import logging
import os
import signal

log = logging.getLogger("corral.exec")

_KEY_PREFIX = "exec.tasks."


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(b")") + 2:].split()
    return int(fields[19])


def record(store, job_id: int, rank: int, tasks: list):
    store.kv_set(f"{_KEY_PREFIX}{job_id}.{rank}", tasks)


def forget(store, job_id: int, ranks):
    for rank in ranks:
        store.kv_delete(f"{_KEY_PREFIX}{job_id}.{rank}")


def kill_orphans(store) -> int:
    """SIGKILL the process groups of tasks recorded by a previous controller."""
    killed = 0
    for key, tasks in store.kv_items(_KEY_PREFIX):
        for pid, started in tasks:
            if start_time(pid) == started:
                try:
                    os.killpg(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
        store.kv_delete(key)
    if killed:
        log.warning("killed %d task process groups left by the previous controller", killed)
    return killed
