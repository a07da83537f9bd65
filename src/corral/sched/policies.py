"""Which queue policy, planning duration and nodes each queue has, from the configuration.

``[sched] queue-policy`` (``fcfs``, ``easy`` or ``conservative``, fluxion's names) applies to
every queue; ``[queues.NAME] queue-policy`` overrides it for one queue.  A job without a time
limit is given, and planned with, its queue's default duration
(``[queues.NAME.policy.jobspec.defaults.system] duration``, else
``[policy.jobspec.defaults.system] duration``) capped by its queue's duration limit
(``[queues.NAME.policy.limits] duration``, else ``[policy.limits] duration``), as Slurm gives
it the partition's ``DefaultTime``, else its ``MaxTime``; with neither, it is planned as never
ending.

``[sched] queue-depth`` (fluxion's ``queue-params.queue-depth``; Slurm's backfill has
``bf_max_job_test``, and its default of 500) is how
many pending jobs one scheduling pass considers, in priority order: a backfill pass over a
deep queue costs that many jobs, not the whole queue.  ``0`` considers every job.

A queue owns the nodes that have every property of its ``requires`` (Flux's key) and that its
``nodes`` hostlist names (Slurm's partition ``Nodes=``), as an RFC 31 constraint; a queue with
neither owns every node.

``[queues.NAME.policy.limits] max-jobs-per-user`` (else ``[policy.limits]``'s) caps the jobs
one user runs in a queue at once (Slurm's ``MaxJobsPerUser``); -1 lifts a general cap.
"""

import math

from .. import fsd, hostlist
from . import conservative, easy, fcfs

POLICIES = {module.name: module for module in (fcfs, easy, conservative)}
#: Pending jobs one pass considers unless ``[sched] queue-depth`` says otherwise: Slurm's
#: backfill default.  Fluxion's 32 made EASY's mean wait on a replayed Lublin-256 trace,
#: whose queue grows deep, five times longer than the whole queue's; 500 is within 3% of it.
DEFAULT_QUEUE_DEPTH = 500


class QueuePolicies:
    def __init__(self, default=fcfs, by_queue=None, default_duration=math.inf,
                 durations=None, queue_names=None, depth=DEFAULT_QUEUE_DEPTH, nodes=None,
                 user_limits=None):
        self.default = default
        #: How many pending jobs a pass considers (None: all).
        self.depth = depth
        #: Queue name -> how many jobs one user may run in it at once (uncapped: absent).
        self.user_limits = user_limits or {}
        #: Queue name -> the RFC 31 constraint its nodes match (queues owning every node
        #: are not listed).
        self.nodes = nodes or {}
        #: The configured queues (None: one anonymous queue).
        self.queue_names = queue_names
        self.by_queue = by_queue or {}
        self.default_duration = default_duration
        self.durations = durations or {}
        #: Does any queue make reservations (so a pass needs the running jobs' ends)?
        self.plans_ahead = any(policy.reserves(0) for policy in
                               (default, *self.by_queue.values()))

    def policy(self, queue):
        return self.by_queue.get(queue, self.default)

    def duration(self, queue) -> float:
        """How long a job of ``queue`` without a time limit is expected to run."""
        return self.durations.get(queue, self.default_duration)

    @classmethod
    def from_config(cls, config, policy_name=None):
        """Read the configuration; ``policy_name`` (a command's option) overrides
        ``[sched] queue-policy``."""
        if config is None:
            return cls(POLICIES[policy_name or "fcfs"])
        depth = config.get_int("sched.queue-depth", DEFAULT_QUEUE_DEPTH)
        if depth < 0:
            raise config.error("sched.queue-depth", "must be 0 (every job) or more")
        default = POLICIES[policy_name] if policy_name else _policy(config, "sched.queue-policy")
        by_queue = {}
        nodes = {}
        user_limits = {}
        general_limit = _user_limit(config, "policy.limits.max-jobs-per-user", None)
        default_duration, durations = default_durations(config)
        queues = config.get("queues") or {}
        if isinstance(queues, dict):
            for name, table in queues.items():
                if not isinstance(table, dict):
                    continue
                if "queue-policy" in table:
                    by_queue[name] = _policy(config, f"queues.{name}.queue-policy")
                constraint = _queue_nodes(config, name, table)
                if constraint:
                    nodes[name] = constraint
                limit = _user_limit(config, f"queues.{name}.policy.limits.max-jobs-per-user",
                                    general_limit)
                if limit is not None:
                    user_limits[name] = limit
        names = list(queues) if isinstance(queues, dict) and queues else None
        if names is None and general_limit is not None:
            user_limits[None] = general_limit
        return cls(default, by_queue, default_duration, durations, names, depth or None,
                   nodes, user_limits)


def _policy(config, key):
    name = config.get_str(key, "fcfs")
    policy = POLICIES.get(name)
    if policy is None:
        raise config.error(key, f"unknown queue policy '{name}' (expected fcfs, easy or "
                                f"conservative)")
    return policy


def _duration(config, key) -> float:
    seconds = config.get_duration(key, 0.0)
    if seconds < 0:
        raise config.error(key, "must not be negative")
    return seconds or math.inf


class LimitError(ValueError):
    """A ``policy.limits.duration`` that is not an FSD string, in flux-core's words."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def jansson_type_name(value) -> str:
    """The JSON type of a configuration value as flux-core's messages name it (jansson's
    ``real``, ``object``), for the limits that quote them."""
    return {bool: "boolean", int: "integer", float: "real", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def _limit(table, prefix: str = "") -> float | None:
    """The limit a table holding ``policy.limits.duration`` sets (0: none), or None.  Only
    FSD strings, as flux-core's ``.limit-duration`` takes them."""
    key = f"{prefix}policy.limits.duration"
    text = (((table or {}).get("policy") or {}).get("limits") or {}).get("duration")
    if text is None:
        return None
    if not isinstance(text, str):
        raise LimitError(key, f"Expected string, got {jansson_type_name(text)}")
    try:
        return fsd.parse(text)
    except ValueError:
        raise LimitError(key, "FSD value is malformed") from None


def parse_duration_limits(conf: dict) -> tuple[float | None, dict[str, float | None]]:
    """``[policy.limits] duration`` and each queue's own, by name (None: not set, 0: none):
    read by ``.limit-duration``, which refuses longer jobs, and here, where jobs asking for
    no limit get one.  `LimitError` when one is not an FSD string."""
    queues = conf.get("queues") or {}
    return _limit(conf), {name: _limit(table, f"queues.{name}.")
                          for name, table in queues.items() if isinstance(table, dict)}


def duration_limits(config) -> tuple[float, dict[str, float]]:
    """The longest time limit a job may have (``inf``: any), generally and by queue name
    (a queue without its own has the general one): `parse_duration_limits` of ``config``."""
    try:
        general, queues = parse_duration_limits(config.data)
    except LimitError as exc:
        raise config.error(exc.key, exc.problem) from None
    general = general or math.inf
    return general, {name: general if limit is None else limit or math.inf
                     for name, limit in queues.items()}


def default_durations(config) -> tuple[float, dict]:
    """The time limit a job that asks for none is given (``inf``: none), generally and by
    queue name: the queue's ``[policy.jobspec.defaults.system] duration``, else the general
    one (Slurm's ``DefaultTime``), capped by the duration limit that applies: Slurm gives
    such a job its partition's ``MaxTime`` when it has no ``DefaultTime`` or one over it
    (read_config.c drops it), where flux-core would refuse it (docs/compatibility.md)."""
    general_limit, limits = duration_limits(config)
    general = _duration(config, "policy.jobspec.defaults.system.duration")
    durations = {}
    queues = config.get("queues") or {}
    if isinstance(queues, dict):
        for name in queues:
            key = f"queues.{name}.policy.jobspec.defaults.system.duration"
            default = _duration(config, key) if config.get(key) is not None else general
            durations[name] = min(default, limits.get(name, general_limit))
    return min(general, general_limit), durations


def _user_limit(config, key, default) -> int | None:
    value = config.get(key)
    if value is None:
        return default
    if type(value) is not int or value == 0 or value < -1:
        raise config.error(key, "expected a positive integer, or -1 for no limit")
    return None if value == -1 else value


def _queue_nodes(config, name, table) -> dict:
    """The RFC 31 constraint of ``[queues.NAME]`` ``requires`` and ``nodes``."""
    constraint = {}
    requires = table.get("requires")
    if requires is not None:
        if not isinstance(requires, list) or not all(isinstance(item, str) and item
                                                     for item in requires):
            raise config.error(f"queues.{name}.requires", "expected an array of property names")
        constraint["properties"] = list(requires)
    hosts = table.get("nodes")
    if hosts is not None:
        try:
            hostlist.expand(hosts)
        except (ValueError, TypeError):
            raise config.error(f"queues.{name}.nodes", "expected a hostlist") from None
        constraint["hostlist"] = [hosts]
    return constraint
