"""``.limit-job-size``: reject jobs asking for more (or fewer) nodes, cores or GPUs than the
configured limits allow.

Limits are ``[policy.limits.job-size.max]`` and ``[policy.limits.job-size.min]`` tables of
``nnodes``, ``ncores`` and ``ngpus``; ``[queues.<name>.policy.limits.job-size...]`` overrides
them key by key for one queue.  Since 0 is a real limit, -1 means unlimited (a queue can lift
a general limit with it).  The plugin is always loaded, so with nothing configured its
validate callback returns at once.
"""

from corral import jobspec
from corral.sched.policies import jansson_type_name

_RESOURCES = ("nnodes", "ncores", "ngpus")
_UNLIMITED = -1


class ConfigProblem(ValueError):
    """A job-size table that cannot be used; the message names the key."""


def _sizes(table, where: str) -> dict:
    """``{resource: limit}`` for the resources a max or min table sets."""
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigProblem(f"{where}: Expected object, got {jansson_type_name(table)}")
    sizes = {}
    for resource in _RESOURCES:
        if resource not in table:
            continue
        value = table[resource]
        if type(value) is not int:
            raise ConfigProblem(f"{where}: Expected integer, got {jansson_type_name(value)}")
        if value < _UNLIMITED:
            raise ConfigProblem(f"{where}: size must be -1 (unlimited), or >= 0")
        sizes[resource] = value
    return sizes


def _limits(conf, prefix: str = "") -> dict:
    """``{"max": {...}, "min": {...}}`` from a table holding ``policy.limits.job-size``."""
    job_size = (((conf or {}).get("policy") or {}).get("limits") or {}).get("job-size")
    if job_size is None:
        return {"max": {}, "min": {}}
    if not isinstance(job_size, dict):
        raise ConfigProblem(f"{prefix}policy.limits.job-size: Expected object, "
                            f"got {jansson_type_name(job_size)}")
    return {bound: _sizes(job_size.get(bound), f"{prefix}policy.limits.job-size.{bound}")
            for bound in ("max", "min")}


class JobSizeLimits:
    def __init__(self):
        self.general = {"max": {}, "min": {}}
        self.queues: dict[str, dict] = {}

    def configure(self, p, topic, args):
        conf = args["conf"]
        try:
            general = _limits(conf)
            queues = {name: _limits(table, f"queues.{name}.")
                      for name, table in (conf.get("queues") or {}).items()}
        except ConfigProblem as exc:
            return p.error(args, "%s", str(exc))
        self.general, self.queues = general, queues
        return 0

    def validate(self, p, topic, args):
        if not (self.general["max"] or self.general["min"]) and not self.queues:
            return 0
        spec = args["jobspec"]
        try:
            request = jobspec.validate(spec)
        except jobspec.JobspecError as exc:
            return p.reject_job(args, "%s", str(exc))
        queue = request.queue
        limits = {bound: dict(sizes) for bound, sizes in self.general.items()}
        if queue in self.queues:
            for bound, sizes in self.queues[queue].items():
                limits[bound].update(sizes)
        counts = {
            "nnodes": request.nnodes,
            "ncores": request.nslots * request.cores_per_slot,
            "ngpus": request.nslots * request.gpus_per_slot,
        }
        for bound, word in (("max", "exceeds"), ("min", "is under")):
            for resource in _RESOURCES:
                limit = limits[bound].get(resource, _UNLIMITED)
                value = counts[resource]
                if limit == _UNLIMITED:
                    continue
                if value > limit if bound == "max" else value < limit:
                    where = f" for queue {queue}" if queue else ""
                    return p.reject_job(args, "requested %s (%d) %s policy limit of %d%s",
                                        resource, value, word, limit, where)
        return 0


def plugin_init(p):
    limits = JobSizeLimits()
    p.add_handler("job.validate", limits.validate)
    p.add_handler("conf.update", limits.configure)
