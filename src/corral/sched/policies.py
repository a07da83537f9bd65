"""Which queue policy and which planning duration each queue has, from the configuration.

``[sched] queue-policy`` (``fcfs``, ``easy`` or ``conservative``, fluxion's names) applies to
every queue; ``[queues.NAME] queue-policy`` overrides it for one queue.  A job without a time
limit is planned with its queue's default duration
(``[queues.NAME.policy.jobspec.defaults.system] duration``, else
``[policy.jobspec.defaults.system] duration``); with none, it is planned as never ending.

``[sched] queue-depth`` (fluxion's ``queue-params.queue-depth``, and its default of 32) is how
many pending jobs one scheduling pass considers, in priority order: a backfill pass over a
deep queue costs that many jobs, not the whole queue.  ``0`` considers every job.
"""

import math

from . import conservative, easy, fcfs

POLICIES = {module.name: module for module in (fcfs, easy, conservative)}
#: Pending jobs one pass considers unless ``[sched] queue-depth`` says otherwise (fluxion's).
DEFAULT_QUEUE_DEPTH = 32


class QueuePolicies:
    def __init__(self, default=fcfs, by_queue=None, default_duration=math.inf,
                 durations=None, queue_names=None, depth=DEFAULT_QUEUE_DEPTH):
        self.default = default
        #: How many pending jobs a pass considers (None: all).
        self.depth = depth
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
        durations = {}
        default_duration = _duration(config, "policy.jobspec.defaults.system.duration")
        queues = config.get("queues") or {}
        if isinstance(queues, dict):
            for name, table in queues.items():
                if not isinstance(table, dict):
                    continue
                if "queue-policy" in table:
                    by_queue[name] = _policy(config, f"queues.{name}.queue-policy")
                key = f"queues.{name}.policy.jobspec.defaults.system.duration"
                if config.get(key) is not None:
                    durations[name] = _duration(config, key)
        names = list(queues) if isinstance(queues, dict) and queues else None
        return cls(default, by_queue, default_duration, durations, names, depth or None)


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
