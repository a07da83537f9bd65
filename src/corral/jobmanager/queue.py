"""Queues: named queues from ``[queues.<name>]``, each enabled/disabled (may jobs be
submitted?) and started/stopped (may jobs be allocated?), as ``flux queue`` controls them.

Without configured queues there is one anonymous queue.  A job that names no queue goes to
``[policy.jobspec.defaults.system] queue`` when one is set, and a job that asks for no time
limit gets its queue's default duration (``[queues.NAME.policy.jobspec.defaults.system]
duration``, else the general one) capped by its queue's duration limit, which is what it gets
without a default (Slurm's ``MaxTime``; see `default_durations`): both are written into its
jobspec, so plugins and exec see them, as Flux's jobspec defaults are; the job's ``submit``
event says ``default_queue`` so that a restart can tell a queue it was given from one it named.
``queue-status`` says each queue's duration limit, for sinfo and scontrol.  Queue states are
kept in the store and survive a restart, as in Flux; a restart on a configuration without some
queue ends the pending jobs that named it (`restart`), and `Alloc` never places a job of a
queue that is not configured.
"""

import errno
import math

from .. import idset
from ..broker.message import RequestError
from ..sched.policies import default_durations, duration_limits


class QueueState:
    __slots__ = ("name", "enabled", "disable_reason", "started", "stop_reason")

    def __init__(self, name):
        self.name = name
        self.enabled = True
        self.disable_reason = None
        self.started = True
        self.stop_reason = None

    def status(self) -> dict:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "disable_reason": self.disable_reason,
            "started": self.started,
            "stop_reason": self.stop_reason,
        }


_STORE_KEY = "job-manager.queues"


def gone_text(names: list[str]) -> str:
    """What a job whose queues ``names`` are no longer configured is told."""
    if len(names) == 1:
        return f"its queue {names[0]} is no longer configured"
    return f"its queues {','.join(names)} are no longer configured"


class Queues:
    def __init__(self, manager, config):
        self.manager = manager
        configured = config.get("queues", {}) if config is not None else {}
        if not isinstance(configured, dict):
            raise config.error("queues", "must be a table of queue tables")
        self.named = bool(configured)
        self.queues = {name: QueueState(name) for name in configured} or {None: QueueState(None)}
        self.default = None
        self.general_duration, self.durations = (
            default_durations(config) if config is not None else (math.inf, {}))
        self.general_limit, self.limits = (
            duration_limits(config) if config is not None else (math.inf, {}))
        if config is not None:
            default = config.get("policy.jobspec.defaults.system.queue")
            if default is not None:
                if default not in self.queues:
                    raise config.error("policy.jobspec.defaults.system.queue",
                                       f"default queue '{default}' is not configured")
                self.default = default
        for name, saved in (manager.store.kv_get(_STORE_KEY, {}) or {}).items():
            queue = self.queues.get(name if name else None)
            if queue is not None:
                queue.enabled, queue.disable_reason, queue.started, queue.stop_reason = saved

    def _save(self):
        self.manager.store.kv_set(_STORE_KEY, {
            queue.name or "": [queue.enabled, queue.disable_reason, queue.started,
                               queue.stop_reason]
            for queue in self.queues.values()
        })

    def _lookup(self, name):
        if not self.named:
            return self.queues[None]
        return self.queues.get(name if name is not None else self.default)

    def check_submit(self, name) -> str | None:
        """Why a job may not be submitted to queue ``name`` now, or None."""
        if not self.named:
            if name is not None:
                return f"invalid queue '{name}': no queues are configured"
        elif name is None and self.default is None:
            return "no queue specified and no default queue is configured"
        queue = self._lookup(name)
        if queue is None:
            return f"invalid queue '{name}' specified"
        if not queue.enabled:
            reason = f": {queue.disable_reason}" if queue.disable_reason else ""
            where = f"{queue.name} queue" if queue.name else "queue"
            return f"job submission to the {where} is disabled{reason}"
        return None

    def unconfigured(self, request) -> list[str]:
        """The queues ``request`` names that are not configured: a job submitted to them
        before a restart on a configuration without them must not run on other nodes."""
        names = request.queues or ((request.queue,) if request.queue is not None else ())
        return [name for name in names if not self.named or name not in self.queues]

    def default_duration(self, name) -> float | None:
        """The time limit a job of queue ``name`` that asks for none gets, or None."""
        duration = self.durations.get(name, self.general_duration)
        return duration if duration < math.inf else None

    def duration_limit(self, name) -> float | None:
        """The longest time limit a job of queue ``name`` may have, or None."""
        limit = self.limits.get(name, self.general_limit)
        return limit if limit < math.inf else None

    def started(self, name) -> bool:
        queue = self._lookup(name)
        return queue is None or queue.started

    def _targets(self, request):
        name = request.get("name")
        if name is None or name == "all":
            return list(self.queues.values())
        queue = self.queues.get(name) if self.named else None
        if queue is None:
            raise RequestError(errno.ENOENT, f"{name}: no such queue")
        return [queue]

    # --- services ---------------------------------------------------------------------

    def serve_status(self, msg):
        """Each queue's states and, when it owns only some nodes, their ranks; when it has
        them, its duration limit and the time limit a job asking for none gets (seconds)."""
        request = msg.payload_object()
        queues = []
        for queue in self._targets(request):
            status = queue.status()
            ranks = self.manager.scheduler.queue_ranks(queue.name)
            if ranks is not None:
                status["ranks"] = idset.encode(ranks)
            limit = self.duration_limit(queue.name)
            if limit is not None:
                status["duration_limit"] = limit
            default = self.default_duration(queue.name)
            if default is not None:
                status["default_duration"] = default
            queues.append(status)
        msg.respond({"queues": queues})

    def serve_enable(self, msg):
        request = msg.payload_object()
        enable = request.get("enable")
        if not isinstance(enable, bool):
            raise RequestError(errno.EPROTO, "queue-enable needs a boolean 'enable'")
        for queue in self._targets(request):
            queue.enabled = enable
            queue.disable_reason = None if enable else request.get("reason")
        self._save()
        msg.respond({})

    def serve_start(self, msg):
        request = msg.payload_object()
        start = request.get("start")
        if not isinstance(start, bool):
            raise RequestError(errno.EPROTO, "queue-start needs a boolean 'start'")
        targets = self._targets(request)
        for queue in targets:
            queue.started = start
            queue.stop_reason = None if start else request.get("reason")
        self._save()
        self.manager.queue_state_changed(targets, start)
        msg.respond({})
