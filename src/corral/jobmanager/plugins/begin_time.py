"""``.begin-time``: hold a job in DEPEND until a wall-clock time (``--begin-time``).

The dependency value is a float epoch time in a string, as Flux sends it; the description is
``begin-time=<time with 3 decimals>``.  A timer removes the dependency at that time; it is
tied to the job, so it goes away with the job if the job ends first.
"""

import errno
import math
import time

from corral.jobtap import CURRENT_JOB


def _timestamp(value) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 and math.isfinite(seconds) else None


def _depend(p, topic, args):
    value = args["dependency"].get("value")
    begin = _timestamp(value)
    if begin is None:
        return p.reject_job(args, "Invalid begin-time=%s", value)
    job_id = args["id"]
    description = f"begin-time={begin:.3f}"
    try:
        p.dependency_add(job_id, description)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            return 0  # satisfied before a restart
        return p.reject_job(args, "Unable to initialize begin-time")
    h = p.get_flux()

    def release(timer):
        p.job_aux_delete_value(job_id, timer)
        p.dependency_remove(job_id, description)

    timer = h.timer(max(begin - time.time(), 0.0), release)
    p.job_aux_set(CURRENT_JOB, None, timer, lambda stopped: stopped.stop())
    return 0


def plugin_init(p):
    p.add_handler("job.dependency.begin-time", _depend)
