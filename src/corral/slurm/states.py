"""The one map from corral's RFC 21 states and results to Slurm's job states and reasons.

Every Slurm command here asks `slurm_state` and `slurm_reason`; nothing else translates a
state.  The table (also in docs/slurm.md):

=============================  ===============  =====  ==============================
corral                          Slurm state      short  reason
=============================  ===============  =====  ==============================
NEW, DEPEND                     PENDING          PD     Dependency (BeginTime while a
                                                        ``--begin`` time is ahead,
                                                        JobArrayTaskLimit for an array
                                                        task's ``%N`` throttle alone)
PRIORITY, SCHED, urgency 0      PENDING          PD     JobHeldUser (JobHeldAdmin when
                                                        the instance owner held it)
PRIORITY, SCHED, queue stopped  PENDING          PD     PartitionDown
PRIORITY, SCHED                 PENDING          PD     Resources for the first job in
                                                        line, Priority for the others (what
                                                        the scheduler said, when it did)
RUN                             RUNNING          R      None
CLEANUP                         COMPLETING       CG     None
INACTIVE, COMPLETED             COMPLETED        CD     None
INACTIVE, FAILED                FAILED           F      NonZeroExitCode
INACTIVE, FAILED (node)         NODE_FAIL        NF     NodeDown
INACTIVE, FAILED (oom)          OUT_OF_MEMORY    OOM    OutOfMemory
INACTIVE, FAILED (alloc: more   FAILED           F      PartitionConfig
  than the instance has)
INACTIVE, CANCELED              CANCELLED        CA     None
INACTIVE, CANCELED never ran,   CANCELLED        CA     DependencyNeverSatisfied
  dependency exception
INACTIVE, TIMEOUT               TIMEOUT          TO     TimeLimit
=============================  ===============  =====  ==============================

A ``dependency`` exception (a dependency that can never be satisfied) ends a corral job;
Slurm would leave it pending with ``DependencyNeverSatisfied`` until cancelled, so corral
shows it CANCELLED with that reason.  SUSPENDED, PREEMPTED and REQUEUED are known to the
state filters (``squeue -t``, ``sacct -s``) but corral never puts a job in them: it does not
suspend or preempt, and a requeued job is PENDING again at once.
"""


from ..states import CLEANUP, DEPEND, INACTIVE, NEW, PRIORITY, RUN, SCHED, Result
from ..waitstatus import exit_and_signal

#: Slurm state name -> compact form.
COMPACT = {
    "PENDING": "PD", "RUNNING": "R", "SUSPENDED": "S", "COMPLETING": "CG",
    "COMPLETED": "CD", "CONFIGURING": "CF", "CANCELLED": "CA", "FAILED": "F",
    "TIMEOUT": "TO", "PREEMPTED": "PR", "NODE_FAIL": "NF", "OUT_OF_MEMORY": "OOM",
    "REQUEUED": "RQ", "BOOT_FAIL": "BF", "DEADLINE": "DL",
}
FROM_COMPACT = {short: name for name, short in COMPACT.items()}

#: The states that are over (squeue lists them for MinJobAge only).
FINISHED = frozenset({"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "PREEMPTED",
                      "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"})

_ACTIVE = {NEW: "PENDING", DEPEND: "PENDING", PRIORITY: "PENDING", SCHED: "PENDING",
           RUN: "RUNNING", CLEANUP: "COMPLETING"}
_FAILED_BY_EXCEPTION = {"node": "NODE_FAIL", "oom": "OUT_OF_MEMORY"}
_FINISHED_REASON = {"FAILED": "NonZeroExitCode", "TIMEOUT": "TimeLimit",
                    "NODE_FAIL": "NodeDown", "OUT_OF_MEMORY": "OutOfMemory"}


#: Why a job waits after its requeue delay, and while its queue is stopped (``corral queue
#: stop``: Slurm's partition state DOWN, where jobs are queued but not allocated).
BEGIN_TIME = "BeginTime"
QUEUE_STOPPED = "PartitionDown"
#: Why an array task waits for its ``%N`` throttle.
ARRAY_TASK_LIMIT = "JobArrayTaskLimit"

#: Slurm state -> ``(corral states, corral results)`` it covers, for listings that filter by
#: Slurm's names.  The failures Slurm tells apart (NODE_FAIL, OUT_OF_MEMORY) are FAILED jobs
#: to corral; the states corral never uses match nothing.
CORRAL_FILTER = {
    "PENDING": (NEW | DEPEND | PRIORITY | SCHED, 0),
    "RUNNING": (RUN, 0),
    "COMPLETING": (CLEANUP, 0),
    "COMPLETED": (INACTIVE, Result.COMPLETED),
    "FAILED": (INACTIVE, Result.FAILED),
    "NODE_FAIL": (INACTIVE, Result.FAILED),
    "OUT_OF_MEMORY": (INACTIVE, Result.FAILED),
    "CANCELLED": (INACTIVE, Result.CANCELED),
    "TIMEOUT": (INACTIVE, Result.TIMEOUT),
}


def corral_filter(word: str) -> tuple[int, int] | None:
    """``(states, results)`` masks of one Slurm state name or compact form (any case), or
    None when ``word`` is neither."""
    word = word.strip().upper()
    name = FROM_COMPACT.get(word, word)
    if name not in COMPACT:
        return None
    states, result = CORRAL_FILTER.get(name, (0, 0))
    return states, int(result)


def slurm_state(job: dict) -> str:
    """The Slurm state name of a job summary (``corral jobs`` fields)."""
    state = job["state"]
    if state != INACTIVE:
        return _ACTIVE[state]
    result = job.get("result")
    if result == Result.COMPLETED:
        return "COMPLETED"
    if result == Result.CANCELED or _never_satisfied(job):
        return "CANCELLED"
    if result == Result.TIMEOUT:
        return "TIMEOUT"
    exception = job.get("exception") or {}
    return _FAILED_BY_EXCEPTION.get(exception.get("type"), "FAILED")


def _throttled_only(job) -> bool:
    """Whether an array task waits for nothing but its ``%N`` throttle: its dependencies
    are all on jobs submitted after the array's first task, and only the throttle can name
    those (the user's dependencies were on jobs that existed before the array)."""
    array = (job.get("annotations") or {}).get("user", {}).get("slurm", {}).get("array")
    outstanding = job.get("dependencies")
    if not array or not array[0] or not outstanding:
        return False
    for description in outstanding:
        kind, _equals, value = description.partition("=")
        if kind != "after-finish" or not value.isdecimal() or int(value) < array[0]:
            return False
    return True


def _never_satisfied(job) -> bool:
    exception = job.get("exception") or {}
    return exception.get("type") == "dependency" and not job.get("t_run")


def slurm_reason(job: dict, state: str, first_in_line: bool = False,
                 owner_uid: int | None = None, now: float = 0.0) -> str:
    """Slurm's reason for ``job`` in ``state`` (``None`` when there is nothing to say)."""
    if state == "PENDING":
        corral_state = job["state"]
        if job.get("urgency") == 0:
            held_by = ((job.get("annotations") or {}).get("user", {}).get("slurm", {})
                       .get("held_by"))
            by_owner = held_by is not None and held_by != job["userid"] and held_by == owner_uid
            # A job requeued held by the system (a failed launch) has a reason of its own.
            return "JobHeldAdmin" if by_owner or job.get("reason") else "JobHeldUser"
        said = job.get("reason")
        if said in (BEGIN_TIME, QUEUE_STOPPED):
            return said
        if corral_state in (NEW, DEPEND):
            begin = (job.get("annotations") or {}).get("user", {}).get("slurm", {}).get("begin")
            if begin and begin > now:
                return BEGIN_TIME
            return ARRAY_TASK_LIMIT if _throttled_only(job) else "Dependency"
        if said in ("Resources", "Priority"):  # what the scheduler said of it
            return said
        return "Resources" if first_in_line else "Priority"
    if state == "CANCELLED" and _never_satisfied(job):
        return "DependencyNeverSatisfied"
    exception = job.get("exception") or {}
    if state == "FAILED" and exception.get("type") == "alloc" and not job.get("t_run"):
        return "PartitionConfig"
    return _FINISHED_REASON.get(state, "None")


def parse_state_list(text: str) -> set[str] | None:
    """The Slurm states of a ``-t/--states`` list (names or compact forms, any case);
    None for ``all``."""
    wanted = set()
    for word in text.split(","):
        word = word.strip().upper()
        if word == "ALL":
            return None
        if word in COMPACT:
            wanted.add(word)
        elif word in FROM_COMPACT:
            wanted.add(FROM_COMPACT[word])
        elif word == "CANCELED":
            wanted.add("CANCELLED")
        else:
            raise ValueError(f"Invalid job state specified: {word}")
    return wanted


def exit_code(job: dict) -> str:
    """sacct's ``ExitCode``: ``exit:signal`` of the job's wait status (``0:0`` if none)."""
    status = job.get("waitstatus")
    if status is None:
        return "0:0"
    code, signum = exit_and_signal(status)
    return f"{code}:{signum}"
