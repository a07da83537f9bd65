"""flux-core's submit-hold.so: every job is held (urgency 0) as it enters DEPEND."""

from corral.jobtap import CURRENT_JOB


def hold(p, topic, args):
    p.event_post(CURRENT_JOB, "urgency", {"urgency": 0, "userid": args["userid"]})


def plugin_init(p):
    p.add_handler("job.state.depend", hold)
