"""``.validate-duration``: reject a job whose time limit outlasts the instance.

flux-core takes the instance's end from the expiration of its resources (set by a parent
instance); a corral instance has no end of its own, so this plugin takes it from its load-time
conf: ``corral jobtap load .validate-duration expiration=<epoch seconds>``.  Without one, every
duration is accepted.
"""

import time

from corral import fsd


def _validate(p, topic, args):
    expiration = p.conf.get("expiration", 0)
    duration = args["jobspec"].get("attributes", {}).get("system", {}).get("duration", 0)
    if duration <= 0 or not expiration or expiration <= 0:
        return 0
    remaining = expiration - time.time()
    if duration <= remaining:
        return 0
    if remaining <= 0:
        return p.reject_job(args, "duration exceeds instance lifetime")
    return p.reject_job(args, "job duration (%s) exceeds remaining instance lifetime (%s)",
                        fsd.format(duration, 2), fsd.format(remaining, 2))


def plugin_init(p):
    expiration = p.conf.get("expiration", 0)
    if type(expiration) not in (int, float):
        p.get_flux().log_error(".validate-duration: expiration must be epoch seconds")
        return -1
    p.add_handler("job.validate", _validate)
