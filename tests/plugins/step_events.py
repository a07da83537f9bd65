"""Logs the ``job.event.step-start`` and ``job.event.step-finish`` callbacks of every job (it
subscribes to each in ``job.validate``), with the state the job is in at the time."""

import json

from corral.jobtap import CURRENT_JOB, get_flux


def plugin_init(p):
    h = get_flux(p)

    def validate(p, topic, args):
        p.job_subscribe(CURRENT_JOB)

    def step(p, topic, args):
        h.log(6, "step-events: %s", json.dumps({"topic": topic, "id": args["id"],
                                               "state": args["state"],
                                               "context": args["entry"]["context"]}))

    p.add_handler("job.validate", validate)
    p.add_handler("job.event.step-start", step)
    p.add_handler("job.event.step-finish", step)
