"""flux-core's alloc-bypass.so in Python: a job with ``attributes.system.alloc-bypass.R``
gets that R without the scheduler: flag ``alloc-bypass`` in ``job.validate``, OUT ``R`` in
``job.state.sched``, then an ``alloc`` event of its own."""

from corral.jobtap import CURRENT_JOB


def _bypass_R(args):
    return args["jobspec"]["attributes"]["system"].get("alloc-bypass", {}).get("R")


def validate(p, topic, args):
    if _bypass_R(args) is not None:
        p.job_set_flag(CURRENT_JOB, "alloc-bypass")


def sched(p, topic, args):
    R = _bypass_R(args)
    if R is not None:
        args.pack(R=R)
        p.event_post(CURRENT_JOB, "alloc", {"bypass": True})


def plugin_init(p):
    p.add_handler("job.validate", validate)
    p.add_handler("job.state.sched", sched)
