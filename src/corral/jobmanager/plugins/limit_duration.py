"""``.limit-duration``: reject jobs asking for a longer time limit than policy allows.

The limit is ``[policy.limits] duration`` (an FSD string), overridden for one queue by
``[queues.<name>.policy.limits] duration``, where ``"0"`` lifts it.  When a limit applies, a job
asking for no limit at all (duration 0) is rejected too, as in flux-core: at submit such a job
has been given its queue's limit already (`corral.sched.policies.default_durations`), so this
refuses an update to no limit, or to a queue whose limit it exceeds.  Always loaded, so with
nothing configured the validate callback returns at once.
"""

from corral import fsd
from corral.sched.policies import LimitError, parse_duration_limits

_UNLIMITED = 0.0


class DurationLimits:
    def __init__(self):
        self.general = None
        self.queues: dict[str, float | None] = {}

    def configure(self, p, topic, args):
        try:
            self.general, self.queues = parse_duration_limits(args["conf"])
        except LimitError as exc:
            return p.error(args, "%s", str(exc))
        return 0

    def validate(self, p, topic, args):
        if self.general in (None, _UNLIMITED) and not self.queues:
            return 0
        system = args["jobspec"].get("attributes", {}).get("system", {})
        duration = system.get("duration", _UNLIMITED)
        queue = system.get("queue")
        limit = self.queues.get(queue) if queue is not None else None
        if limit is None:
            limit = self.general
        if limit in (None, _UNLIMITED):
            return 0
        if duration == _UNLIMITED or duration > limit:
            requested = "unlimited" if duration == _UNLIMITED else fsd.format(duration, 2)
            where = f" for queue {queue}" if queue else ""
            return p.reject_job(args, "requested duration (%s) exceeds policy limit of %s%s",
                                requested, fsd.format(limit, 2), where)
        return 0


def plugin_init(p):
    limits = DurationLimits()
    p.add_handler("job.validate", limits.validate)
    p.add_handler("conf.update", limits.configure)
