"""Posts ``test-event`` from ``job.create``: it lands in the eventlog before ``validate``."""

from corral.jobtap import CURRENT_JOB


def plugin_init(p):
    p.add_handler("job.create",
                  lambda p, topic, args: p.event_post(CURRENT_JOB, "test-event", {"x": 1}))
