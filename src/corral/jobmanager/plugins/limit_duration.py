"""``.limit-duration``: reject jobs asking for a longer time limit than policy allows.

The limit is ``[policy.limits] duration`` (an FSD string), overridden for one queue by
``[queues.<name>.policy.limits] duration``, where ``"0"`` lifts it.  When a limit applies, a job
asking for no limit at all (duration 0) is rejected too.  Always loaded, so with nothing
configured the validate callback returns at once.
"""

from corral import fsd

_UNLIMITED = 0.0


def _kind(value) -> str:
    return {bool: "boolean", int: "integer", float: "real", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def _duration(table, prefix: str = "") -> float | None:
    """The limit a table holding ``policy.limits.duration`` sets, or None."""
    where = f"{prefix}policy.limits.duration"
    text = (((table or {}).get("policy") or {}).get("limits") or {}).get("duration")
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError(f"{where}: Expected string, got {_kind(text)}")
    try:
        return fsd.parse(text)
    except ValueError:
        raise ValueError(f"{where}: FSD value is malformed") from None


class DurationLimits:
    def __init__(self):
        self.general = None
        self.queues: dict[str, float | None] = {}

    def configure(self, p, topic, args):
        conf = args["conf"]
        try:
            general = _duration(conf)
            queues = {name: _duration(table, f"queues.{name}.")
                      for name, table in (conf.get("queues") or {}).items()}
        except ValueError as exc:
            return p.error(args, "%s", str(exc))
        self.general, self.queues = general, queues
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
