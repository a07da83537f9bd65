"""Calls ``test.call`` on the whole stack from ``job.state.run`` with `call` and records
what came back in the job's eventlog (flux-core's call.so)."""

from corral.jobtap import CURRENT_JOB


def run(p, topic, args):
    rc, out = p.call(CURRENT_JOB, "test.call", {"x": 1})
    p.event_post(CURRENT_JOB, "call-result", {"rc": rc, "out": out})


def plugin_init(p):
    p.add_handler("job.state.run", run)
