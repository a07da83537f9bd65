"""Slurm's view of corral jobs: ids (``A_3`` for array tasks), states, reasons, times and
sizes as squeue, sacct, scontrol and scancel show them, from ``job-list`` summaries.

What Slurm knows of a job and a summary does not (array ids, CPUs, account, begin time) is
recorded by the submitting command as the job's ``slurm`` memo (`SLURM_MEMO`), so that
listing 100 000 jobs costs one request and no jobspec reads.  Jobs submitted with corral's
own commands have no memo: their CPUs count as their tasks.  The time limit is the summary's
``duration``, so that the one a job's queue gave it shows.
"""

import errno
import os
import pwd

from .. import idset
from ..client import RPCError
from ..states import INACTIVE, State
from . import DEFAULT_PARTITION, dependencies, memory
from . import states as slurm_states

#: Memo key (``user.slurm`` annotation) of what the Slurm commands record at submission.
SLURM_MEMO = "slurm"
#: Slurm's MinJobAge default: finished jobs stay in squeue for this long.
MIN_JOB_AGE = 300
#: What Slurm's squeue and scontrol print when the one job asked for does not exist.
NO_SUCH_JOB = "slurm_load_jobs error: Invalid job id specified"
#: Slurm's value for "no array task" (NO_VAL), what ``%a`` and ``%K`` print then.
NO_ARRAY_TASK = "N/A"

_user_names: dict[int, str] = {}


def user_name(uid: int) -> str:
    name = _user_names.get(uid)
    if name is None:
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        _user_names[uid] = name
    return name


def user_id(text: str) -> int:
    if text.isdecimal():
        return int(text)
    try:
        return pwd.getpwnam(text).pw_uid
    except KeyError:
        raise ValueError(f"Invalid user: {text}") from None


class SlurmJob:
    """One job as Slurm shows it; ``first_in_line`` marks the pending job that waits for
    resources (the others wait for it: ``Priority``); ``dependency`` is its outstanding
    dependencies in Slurm's words, once `describe_dependencies` has named them."""

    __slots__ = ("summary", "memo", "state", "first_in_line", "_reason", "dependency")

    def __init__(self, summary: dict):
        self.summary = summary
        annotations = summary.get("annotations") or {}
        self.memo = (annotations.get("user") or {}).get(SLURM_MEMO) or {}
        self.state = slurm_states.slurm_state(summary)
        self.first_in_line = False
        self._reason = None
        self.dependency = "(null)"

    # --- identity -----------------------------------------------------------------------

    @property
    def id(self) -> int:
        return self.summary["id"]

    @property
    def array_job_id(self) -> int:
        array = self.memo.get("array")
        return array[0] or self.id if array else self.id

    @property
    def array_task_id(self) -> int | None:
        array = self.memo.get("array")
        return array[1] if array else None

    @property
    def display_id(self) -> str:
        """``JOBID`` in squeue: ``A_i`` for an array task, the id otherwise."""
        task = self.array_task_id
        return f"{self.array_job_id}_{task}" if task is not None else str(self.id)

    def matches_id(self, text: str) -> bool:
        """Is this job named by ``text`` (``12``, ``12_3``, ``12_[1-3]``, or an array's
        id)?  Text that is no job id names none."""
        base, _sep, task = text.partition("_")
        if task:
            try:
                tasks = _task_ids(text, task)
            except ValueError:
                return False
            return str(self.array_job_id) == base and self.array_task_id in tasks
        return str(self.id) == base or (self.array_task_id is not None
                                        and str(self.array_job_id) == base)

    # --- what it is ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.summary.get("name") or ""

    @property
    def uid(self) -> int:
        return self.summary["userid"]

    @property
    def user(self) -> str:
        return user_name(self.uid)

    @property
    def partition(self) -> str:
        return self.summary.get("queue") or DEFAULT_PARTITION

    @property
    def account(self) -> str:
        return self.memo.get("account") or ""

    @property
    def qos(self) -> str:
        return self.memo.get("qos") or "normal"

    @property
    def compact_state(self) -> str:
        return slurm_states.COMPACT[self.state]

    @property
    def held_by_another(self) -> bool:
        """Was it held by a uid other than its user's (``JobHeldAdmin`` if the owner's)?"""
        held_by = self.memo.get("held_by")
        return held_by is not None and held_by != self.uid

    def reason(self, owner_uid: int | None = None, now: float = 0.0) -> str:
        if self._reason is None:
            self._reason = slurm_states.slurm_reason(self.summary, self.state,
                                                     self.first_in_line, owner_uid, now)
        return self._reason

    @property
    def finished(self) -> bool:
        return self.summary["state"] == INACTIVE

    # --- sizes and times -----------------------------------------------------------------

    @property
    def nnodes(self) -> int:
        return self.summary.get("nnodes") or 1

    @property
    def nodelist(self) -> str:
        return self.summary.get("nodelist") or ""

    @property
    def ntasks(self) -> int:
        return self.memo.get("ntasks") or self.summary.get("ntasks") or 1

    @property
    def cpus(self) -> int:
        return self.memo.get("cpus") or self.summary.get("ntasks") or 1

    @property
    def time_limit(self) -> float:
        # Summaries stored before they carried the duration have it in the memo only.
        return self.summary.get("duration") or self.memo.get("limit") or 0

    @property
    def memory(self) -> str:
        """The memory asked for, as squeue's ``%m`` and sacct's ``ReqMem`` print it: per
        node (``--mem``), else per CPU (``--mem-per-cpu``); ``0`` when none was."""
        text = self.memo.get("mem") or self.memo.get("mem_per_cpu")
        return memory.shown(memory.megabytes(text)) if text else "0"

    @property
    def submit_time(self) -> float:
        return self.summary.get("t_submit") or 0

    @property
    def start_time(self) -> float:
        return self.summary.get("t_run") or 0

    @property
    def end_time(self) -> float:
        if not self.start_time:
            return self.summary.get("t_inactive") or 0 if self.finished else 0
        return self.summary.get("t_cleanup") or 0

    def elapsed(self, now: float) -> float:
        start = self.start_time
        if not start:
            return 0
        return (self.end_time or now) - start

    @property
    def exit_code(self) -> str:
        return slurm_states.exit_code(self.summary)

    @property
    def priority(self) -> int:
        return self.summary.get("priority") or 0

    @property
    def work_dir(self) -> str:
        return self.memo.get("workdir") or ""


def mark_first_in_line(jobs: list[SlurmJob]) -> None:
    """The first job waiting to be scheduled in each partition waits for ``Resources``;
    the job list comes in scheduling order, so it is the first one seen."""
    seen = set()
    for job in jobs:
        if job.summary["state"] & (State.PRIORITY | State.SCHED) and job.partition not in seen:
            seen.add(job.partition)
            job.first_in_line = True


def fetch(client, userid: int = -1, since: float | None = None,
          active_only: bool = False) -> list[SlurmJob]:
    """The jobs of ``userid`` (-1: everyone's): active ones, and (``since``) those that
    ended after that time."""
    states = int(State.ACTIVE) if active_only else int(State.ACTIVE | State.INACTIVE)
    try:
        summaries = client.jobs(states=states, userid=userid, since=since or 0)
    except RPCError as exc:
        if exc.errno != errno.EPERM or userid != -1:
            raise
        # Guests see only their own jobs (Slurm's PrivateData=jobs).
        summaries = client.jobs(states=states, userid=os.getuid(), since=since or 0)
    jobs = [SlurmJob(summary) for summary in summaries]
    mark_first_in_line(jobs)
    return jobs


def describe_dependencies(client, jobs: list[SlurmJob]) -> None:
    """Set each job's ``dependency`` text (scontrol's ``Dependency=``, squeue's ``%E``).  The
    jobs waited on are named as Slurm names them (``12_3`` for an array task), so those not
    in ``jobs`` are looked up; a task's wait on another task of its array is its ``%N``
    throttle, which Slurm shows as no dependency."""
    known = {job.id: job for job in jobs}
    for job in jobs:
        descriptions = job.summary.get("dependencies")
        if descriptions:
            job.dependency = dependencies.shown(
                descriptions, lambda target_id, job=job: _slurm_id(client, known, job,
                                                                   target_id))


def _slurm_id(client, known, job, target_id) -> str | None:
    target = known.get(target_id)
    if target is None:
        try:
            target = known[target_id] = SlurmJob(client.job(target_id))
        except RPCError:
            return str(target_id)  # gone (purged) meanwhile: its id is all there is
    if job.array_task_id is not None and target.array_task_id is not None \
            and target.array_job_id == job.array_job_id:
        return None
    return target.display_id


def owner_uid(client) -> int:
    return client.rpc("instance.info")["owner"]


def split_ids(text: str | None) -> list[str]:
    """The job ids of a comma-separated list, where a comma inside an array's brackets
    (``12_[1,3],14``) separates its tasks, not two ids."""
    ids, depth, start = [], 0, 0
    text = text or ""
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            ids.append(text[start:index])
            start = index + 1
    ids.append(text[start:])
    return [word for word in ids if word]


def lookup(client, text: str) -> list[SlurmJob]:
    """The jobs a Slurm job id names: ``12`` (one job, or every task of array 12),
    ``12_3`` (one task), ``12_[1-3,5]`` (those tasks, as Slurm's scancel takes them).
    Raises ValueError for text that is no job id; an unknown id gives an empty list.  Every
    task of an array is found however long ago it ended (sacct's ``-j`` shows them all;
    squeue keeps its own MinJobAge window)."""
    base, underscore, task = text.partition("_")
    tasks = _task_ids(text, task) if underscore else None
    if not base.isdecimal():
        raise ValueError(f"Invalid job id: {text}")
    try:
        head = SlurmJob(client.job(int(base)))
    except RPCError as exc:
        if exc.errno in (errno.ENOENT, errno.EINVAL):
            return []
        raise
    if head.array_task_id is None or head.array_job_id != head.id:
        return [head] if tasks is None else []
    return [job for job in _array_tasks(client, head)
            if tasks is None or job.array_task_id in tasks]


def _task_ids(text: str, task: str) -> set[int]:
    """The array task ids after ``_``: one (``3``) or a bracketed idset (``[1-3,5]``)."""
    if task.isdecimal():
        return {int(task)}
    if task.startswith("[") and task.endswith("]"):
        try:
            return set(idset.decode(task))
        except ValueError:
            pass
    raise ValueError(f"Invalid job id: {text}")


def _array_tasks(client, head: SlurmJob) -> list[SlurmJob]:
    """The tasks of the array whose first task is ``head``.  They are its user's jobs
    submitted after it, so none ended before it was submitted: the listing asks for that
    user's jobs ended since then, not for the whole history."""
    return [job for job in fetch(client, head.uid, since=head.submit_time)
            if job.array_job_id == head.id]
