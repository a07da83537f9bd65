"""flux-core's subscribe.so in Python: subscribes to each job's events in ``job.validate``,
logs every ``job.event.*`` and ``job.state.*`` it gets (so their order shows), checks
`job_event_posted` on ``start`` and unsubscribes there; its ``job.event.alloc`` callback
fails, which must not matter."""

import json

from corral.jobtap import CURRENT_JOB, get_flux


def plugin_init(p):
    h = get_flux(p)

    def note(p, topic, args, extra=None):
        h.log(6, "subscribe-check: %s", json.dumps({"topic": topic, "id": args["id"],
                                                    **(extra or {})}))

    def validate(p, topic, args):
        p.job_subscribe(CURRENT_JOB)

    def event(p, topic, args):
        note(p, topic, args, {"entry": args["entry"]["name"]})
        if topic == "job.event.alloc":
            raise RuntimeError("a failing job.event callback")
        if topic == "job.event.start":
            note(p, "posted", args, {"start": p.job_event_posted(CURRENT_JOB, "start"),
                                     "finish": p.job_event_posted(CURRENT_JOB, "finish")})
            p.job_unsubscribe(CURRENT_JOB)

    p.add_handler("job.validate", validate)
    p.add_handler("job.event.*", event)
    p.add_handler("job.state.*", note)
