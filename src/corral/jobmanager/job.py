"""The job manager's record of one job.

A `Job` holds what the state machine and plugins need while the job is active (redacted
jobspec, R, counters and flags that gate each state's action, the per-job event queue, plugin
aux data and subscriptions) and, once INACTIVE, shrinks to what listings need.  Fields change
only through `jobmanager.event`; everyone else reads them.
"""

import time
from collections import deque

from ..states import NEW, PRIORITY, SCHED, Result, State

#: Priority of a job that has never been assigned one.
PRIORITY_UNSET = -1


class Job:
    __slots__ = (
        "id",
        "userid",
        "urgency",
        "priority",
        "state",
        "t_submit",
        "flags",
        "jobspec",
        "environment",
        "request",
        "R",
        "ranks",
        "end_event",
        # eventlog bookkeeping
        "seq",
        "committed_seq",
        "event_queue",
        "hold_events",
        "readonly",
        "events_posted",
        # gates for state actions
        "dependencies",
        "dependencies_ever",
        "depend_posted",
        "perilog_active",
        "alloc_pending",
        "has_resources",
        "free_posted",
        "start_pending",
        "started",
        "alloc_bypass",
        "requeue_request",
        "restart_count",
        # requeue (corral's extension): what the last `requeue` event said
        "launch_failures",
        "hold_reason",
        "t_eligible",
        # plugin state
        "annotations",
        "aux",
        "subscribers",
        # summary kept after the job is inactive
        "name",
        "queue",
        "ntasks",
        "nnodes_requested",
        "duration",
        "nnodes",
        "nodelist",
        "t_depend",
        "t_sched",
        "t_run",
        "t_cleanup",
        "t_inactive",
        "waitstatus",
        "exception",
        "result",
    )

    def __init__(self, job_id: int, userid: int, t_submit: float, jobspec: dict, request):
        self.id = job_id
        self.userid = userid
        self.urgency = 16
        self.priority = PRIORITY_UNSET
        self.state = NEW
        self.t_submit = t_submit
        self.flags = 0
        self.jobspec = jobspec
        self.environment = None
        self.request = request
        self.R = None
        self.ranks = None  # {rank: (core ids, gpu ids)}, read from R once
        self.end_event = None
        self.seq = 0
        self.committed_seq = 0
        self.event_queue = deque()
        self.hold_events = False
        self.readonly = False
        self.events_posted = 0
        self.dependencies = None
        self.dependencies_ever = None
        self.depend_posted = False
        self.perilog_active = 0
        self.alloc_pending = False
        self.has_resources = False
        self.free_posted = False
        self.start_pending = False
        self.started = False
        self.alloc_bypass = False
        self.requeue_request = None
        self.restart_count = 0
        self.launch_failures = 0
        self.hold_reason = None
        self.t_eligible = None
        self.annotations = None
        self.aux = None
        self.subscribers = None
        self.name = request.name if request is not None else None
        self.queue = request.queue if request is not None else None
        self.ntasks = request.ntasks if request is not None else 0
        self.nnodes_requested = request.nnodes if request is not None else 0
        self.duration = request.duration if request is not None else 0.0
        self.nnodes = 0
        self.nodelist = None
        self.t_depend = None
        self.t_sched = None
        self.t_run = None
        self.t_cleanup = None
        self.t_inactive = None
        self.waitstatus = None
        self.exception = None
        self.result = None

    def __repr__(self):
        return f"<Job {self.id} {State(self.state).name}>"

    def compute_result(self) -> Result | None:
        """The RFC 21 result from the end event (as flux_jobtap_get_job_result does)."""
        end = self.end_event
        if end is None:
            return None
        context = end.get("context") or {}
        if end["name"] == "finish":
            return Result.COMPLETED if context.get("status") == 0 else Result.FAILED
        exception_type = context.get("type")
        if exception_type == "cancel":
            return Result.CANCELED
        if exception_type == "timeout":
            return Result.TIMEOUT
        return Result.FAILED

    def summary(self) -> dict:
        """What listings show of the job; stored with it when it becomes inactive.  Its
        outstanding ``dependencies`` (squeue and scontrol show them), as Flux's job-list has
        them, only when there are some: most jobs have none."""
        summary = {
            "id": self.id,
            "userid": self.userid,
            "urgency": self.urgency,
            "priority": self.priority,
            "state": int(self.state),
            "name": self.name,
            "queue": self.queue,
            "ntasks": self.ntasks,
            "nnodes": self.nnodes or self.nnodes_requested,
            "nodelist": self.nodelist,
            "duration": self.duration,
            "t_submit": self.t_submit,
            "t_depend": self.t_depend,
            "t_sched": self.t_sched,
            "t_run": self.t_run,
            "t_cleanup": self.t_cleanup,
            "t_inactive": self.t_inactive,
            "expiration": (self.R["execution"].get("expiration") or 0.0) if self.R else 0.0,
            "waitstatus": self.waitstatus,
            "exception": self.exception,
            "result": int(self.result) if self.result is not None else None,
            "restarts": self.restart_count,
            "reason": self.pending_reason(),
            "annotations": self.annotations,
        }
        if self.dependencies:
            summary["dependencies"] = list(self.dependencies)
        return summary

    def pending_reason(self) -> str | None:
        """Why a pending job waits, in Slurm's words: for a requeued job, the reason it was
        held with (``launch failed requeued held``) while it is held, ``BeginTime`` while its
        requeue delay runs; in SCHED, what the scheduler said (``Resources``) or else
        ``Priority`` (jobs ahead of it go first); None otherwise."""
        if not self.state & (PRIORITY | SCHED):
            return None
        if self.restart_count > 0:
            if self.hold_reason is not None and self.urgency == 0:
                return self.hold_reason
            if self.t_eligible is not None and time.time() < self.t_eligible:
                return "BeginTime"
        if self.state != SCHED or not self.alloc_pending:
            return None
        said = ((self.annotations or {}).get("sched") or {}).get("reason_pending")
        return said or "Priority"

    def retire(self):
        """Drop what only an active job needs, keeping the summary (INACTIVE action)."""
        self.environment = None
        self.event_queue = None
        self.aux = None
        self.subscribers = None
        self.dependencies = None
        self.dependencies_ever = None
        self.request = None
        self.jobspec = None
        self.R = None
        self.ranks = None


def job_from_summary(summary: dict) -> Job:
    """An inactive job rebuilt from its stored summary (restart of a large history)."""
    job = Job(summary["id"], summary["userid"], summary["t_submit"], None, None)
    job.urgency = summary["urgency"]
    job.priority = summary["priority"]
    job.state = summary["state"]
    job.name = summary["name"]
    job.queue = summary["queue"]
    job.ntasks = summary["ntasks"]
    job.nnodes = summary["nnodes"]
    job.nodelist = summary["nodelist"]
    job.duration = summary.get("duration", 0.0)  # (not in summaries stored before it was)
    job.t_depend = summary["t_depend"]
    job.t_sched = summary["t_sched"]
    job.t_run = summary["t_run"]
    job.t_cleanup = summary["t_cleanup"]
    job.t_inactive = summary["t_inactive"]
    job.waitstatus = summary["waitstatus"]
    job.exception = summary["exception"]
    job.result = Result(summary["result"]) if summary["result"] is not None else None
    job.restart_count = summary.get("restarts", 0)
    job.annotations = summary.get("annotations")
    job.readonly = True
    job.event_queue = None
    return job
