"""Which queue policy, planning duration and nodes each queue has, from the configuration.

``[sched] queue-policy`` (``fcfs``, ``easy`` or ``conservative``, fluxion's names) applies to
every queue; ``[queues.NAME] queue-policy`` overrides it for one queue.  A job without a time
limit is planned with its queue's default duration
(``[queues.NAME.policy.jobspec.defaults.system] duration``, else
``[policy.jobspec.defaults.system] duration``); with none, it is planned as never ending.

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

from .. import hostlist
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


def default_durations(config) -> tuple[float, dict]:
    """``[policy.jobspec.defaults.system] duration`` (``inf``: none) and the queues' own, by
    name: the time limit a job that asks for none is given (Slurm's ``DefaultTime``)."""
    general = _duration(config, "policy.jobspec.defaults.system.duration")
    durations = {}
    queues = config.get("queues") or {}
    if isinstance(queues, dict):
        for name in queues:
            key = f"queues.{name}.policy.jobspec.defaults.system.duration"
            if config.get(key) is not None:
                durations[name] = _duration(config, key)
    return general, durations


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
