"""``squeue``: jobs in Slurm's columns, from one ``job-list`` request.

Pending, running and completing jobs by default; with ``-t`` or ``-j`` also the jobs that
ended in the last `records.MIN_JOB_AGE` seconds (Slurm's ``MinJobAge``), so that a tool
polling a job sees ``CA`` or ``CD`` rather than nothing.  Pending tasks of an array share one
row (``12_[3-9]``) unless ``-r``.  ``-s`` lists running job steps instead (``ID.STEP``), in
Slurm's step columns, from one ``job-manager.step-list`` request.
"""

import json
import os
import sys
import time

from .. import idset
from . import formats, options, records, run, states, times
from .options import Option

_OPTIONS = [
    Option("format", "o"), Option("Format", "O"), Option("noheader", "h", takes_value=False),
    Option("me", takes_value=False), Option("user", "u"), Option("jobs", "j"),
    Option("name", "n"), Option("partition", "p"), Option("states", "t"),
    Option("array", "r", takes_value=False), Option("steps", "s", takes_value=False),
    Option("json", takes_value=False), Option("all", "a", takes_value=False),
    Option("long", "l", takes_value=False),
]
_LONG_FORMAT = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
_STEP_FORMAT = "%.15i %.8j %.9P %.8u %.9M %N"
_DEFAULT_STATES = {"PENDING", "RUNNING", "SUSPENDED", "COMPLETING", "CONFIGURING"}


class _Row:
    """The values of one row, computed only for the fields the format asks for."""

    def __init__(self, job: records.SlurmJob, now: float, owner: int, display_id=None):
        self.job = job
        self.now = now
        self.owner = owner
        self.display_id = display_id

    def _display_id(self):
        return self.display_id or self.job.display_id

    def _job_id(self):
        return str(self.job.id)

    def _array_job_id(self):
        return str(self.job.array_job_id)

    def _array_task_id(self):
        task = self.job.array_task_id
        return records.NO_ARRAY_TASK if task is None else str(task)

    def _name(self):
        return self.job.name

    def _user(self):
        return self.job.user

    def _uid(self):
        return str(self.job.uid)

    def _account(self):
        return self.job.account or "(null)"

    def _qos(self):
        return self.job.qos

    def _state(self):
        return self.job.state

    def _state_compact(self):
        return self.job.compact_state

    def _reason(self):
        return self.job.reason(self.owner, self.now)

    def _reason_list(self):
        job = self.job
        if job.state == "PENDING" or (job.finished and not job.nodelist):
            return f"({job.reason(self.owner, self.now)})"
        return job.nodelist

    def _partition(self):
        return self.job.partition

    def _time_used(self):
        return times.squeue_duration(self.job.elapsed(self.now))

    def _time_limit(self):
        return times.limit_text(self.job.time_limit)

    def _time_left(self):
        limit = self.job.time_limit
        if not limit:
            return "UNLIMITED"
        return times.squeue_duration(limit - self.job.elapsed(self.now))

    def _nodes(self):
        return str(self.job.nnodes)

    def _cpus(self):
        return str(self.job.cpus)

    def _min_memory(self):
        return self.job.memory

    def _ntasks(self):
        return str(self.job.ntasks)

    def _nodelist(self):
        return self.job.nodelist

    def _start_time(self):
        return times.timestamp(self.job.start_time)

    def _end_time(self):
        job = self.job
        if job.finished:
            return times.timestamp(job.end_time)
        if job.start_time and job.time_limit:
            return times.timestamp(job.start_time + job.time_limit)
        return "N/A"

    def _submit_time(self):
        return times.timestamp(self.job.submit_time)

    def _priority(self):
        return str(self.job.priority)

    def _work_dir(self):
        return self.job.work_dir

    def _dependency(self):
        return self.job.dependency


class _StepRow(_Row):
    """A running step: its own id, name, time and nodes; its job's partition and user."""

    def __init__(self, job: records.SlurmJob, step: dict, now: float):
        super().__init__(job, now, None, f"{job.display_id}.{step['step']}")
        self.step = step

    def _name(self):
        return self.step["name"]

    def _time_used(self):
        return times.squeue_duration(self.now - self.step["t_start"])

    def _nodelist(self):
        return self.step["nodelist"]

    _reason_list = _nodelist

    def _ntasks(self):
        return str(self.step["ntasks"])


def _steps(values, parts) -> int:
    """``squeue -s``: the running steps (of ``-j`` jobs or steps, of ``-u`` users)."""
    from ..client import connect

    now = time.time()
    names = records.split_ids(values.get("jobs"))
    userid = _userid(values)
    with connect() as client:
        steps = client.rpc("job-manager.step-list")["steps"]
        jobs = {job.id: job for job in records.fetch(client, userid, active_only=True)}
    rows = []
    for step in steps:
        job = jobs.get(step["id"])
        step_id = f"{step['id']}.{step['step']}"
        if job is None or names and not any(
                text == step_id or job.matches_id(text) for text in names):
            continue
        rows.append(_StepRow(job, step, now))
    parts = [(part[0], "STEPID", *part[2:]) if isinstance(part, tuple)
             and part[0] == "display_id" else part for part in parts]
    lines = [] if values.get("noheader") else [formats.render_header(parts)]
    if values.get("long") and lines:
        lines.insert(0, formats.date_line(now))
    lines.extend(formats.render_all(parts, rows, lambda field: getattr(_StepRow, "_" + field)))
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _wanted(values, now):
    """A predicate over jobs for the filters, and whether finished jobs may be listed."""
    state_filter = _DEFAULT_STATES
    if values.get("states"):
        state_filter = states.parse_state_list(values["states"])
    elif values.get("jobs"):
        state_filter = None
    job_ids = records.split_ids(values.get("jobs"))
    names = set(filter(None, (values.get("name") or "").split(",")))
    partitions = set(filter(None, (values.get("partition") or "").split(",")))

    def wanted(job):
        if state_filter is not None and job.state not in state_filter:
            return False
        if job.finished and job.end_time and job.end_time < now - records.MIN_JOB_AGE:
            return False
        if job_ids and not any(job.matches_id(text) for text in job_ids):
            return False
        if names and job.name not in names:
            return False
        return not partitions or job.partition in partitions

    include_finished = state_filter is None or bool(state_filter & states.FINISHED)
    return wanted, include_finished


def _userid(values) -> int:
    if values.get("me"):
        return os.getuid()
    users = values.get("user")
    if users:
        ids = [records.user_id(name) for name in users.split(",")]
        return ids[0] if len(ids) == 1 else -1
    return -1


def _collapse(jobs, rows_per_task, now, owner):
    """Rows: pending tasks of one array share a row (``A_[1-5]``) unless ``-r``."""
    rows = []
    groups = {}
    for job in jobs:
        if rows_per_task or job.array_task_id is None or job.state != "PENDING":
            rows.append(_Row(job, now, owner))
            continue
        key = (job.array_job_id, job.reason(owner, now))
        if key in groups:
            groups[key].append(job)
            continue
        groups[key] = [job]
        rows.append(key)
    result = []
    for row in rows:
        if isinstance(row, _Row):
            result.append(row)
            continue
        members = groups[row]
        if len(members) == 1:
            result.append(_Row(members[0], now, owner))
        else:
            tasks = idset.encode(job.array_task_id for job in members)
            result.append(_Row(members[0], now, owner, f"{row[0]}_[{tasks}]"))
    return result


def _json(rows, now) -> str:
    def number(value):
        return {"set": value is not None, "infinite": False, "number": value or 0}

    jobs = []
    for row in rows:
        job = row.job
        jobs.append({
            "account": job.account, "array_job_id": number(job.array_job_id
                                                         if job.array_task_id is not None
                                                         else 0),
            "array_task_id": number(job.array_task_id), "cpus": number(job.cpus),
            "current_working_directory": job.work_dir,
            "end_time": number(int(job.end_time)), "job_id": job.id,
            "job_state": [job.state], "name": job.name, "node_count": number(job.nnodes),
            "nodes": job.nodelist, "partition": job.partition, "priority": number(job.priority),
            "qos": job.qos, "start_time": number(int(job.start_time)),
            "state_reason": job.reason(row.owner, now),
            "submit_time": number(int(job.submit_time)), "tasks": number(job.ntasks),
            "time_limit": {"set": bool(job.time_limit), "infinite": not job.time_limit,
                           "number": int(job.time_limit // 60)},
            "user_id": job.uid, "user_name": job.user,
        })
    return json.dumps({"jobs": jobs, "warnings": [], "errors": []}, indent=2)


def _main(argv) -> int:
    values, rest = options.parse("squeue", argv, _OPTIONS)
    if rest:
        raise options.OptionError(f"unrecognized argument '{rest[0]}'")
    if values.get("Format"):
        parts = formats.parse_squeue_names(values["Format"])
    else:
        default = _LONG_FORMAT if values.get("long") else formats.SQUEUE_DEFAULT
        if values.get("steps"):
            default = _STEP_FORMAT
        text = values.get("format") or os.environ.get("SQUEUE_FORMAT") or default
        parts = formats.parse_squeue_format(text)
    if values.get("steps"):
        return _steps(values, parts)
    now = time.time()
    wanted, include_finished = _wanted(values, now)
    from ..client import connect

    with connect() as client:
        if values.get("jobs"):
            # Named jobs are looked up one by one: a poller's `squeue -j ID` must not pay
            # for every job the instance remembers.
            texts = records.split_ids(values["jobs"])
            jobs = [job for text in texts for job in records.lookup(client, text)]
            if len(texts) == 1 and not jobs:
                # Slurm's squeue loads one named job alone, and fails when there is none.
                print(records.NO_SUCH_JOB, file=sys.stderr)
                return 1
            if _userid(values) != -1:
                jobs = [job for job in jobs if job.uid == _userid(values)]
        else:
            jobs = records.fetch(client, _userid(values),
                                 since=now - records.MIN_JOB_AGE if include_finished else None,
                                 active_only=not include_finished)
        # Only a job held by someone else can be JobHeldAdmin, which needs the owner: one
        # request fewer in the common case.
        owner = records.owner_uid(client) if any(job.held_by_another for job in jobs) else None
        if any(isinstance(part, tuple) and part[0] == "dependency" for part in parts):
            records.describe_dependencies(client, jobs)  # (may look the jobs waited on up)
    users = values.get("user")
    if users and "," in users:
        allowed = {records.user_id(name) for name in users.split(",")}
        jobs = [job for job in jobs if job.uid in allowed]
    jobs = [job for job in jobs if wanted(job)]
    rows = _collapse(jobs, values.get("array"), now, owner)
    if values.get("json"):
        print(_json(rows, now))
        return 0
    lines = [] if values.get("noheader") else [formats.render_header(parts)]
    if values.get("long") and lines:
        lines.insert(0, formats.date_line(now))
    lines.extend(formats.render_all(parts, rows, lambda field: getattr(_Row, "_" + field)))
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


def main(argv) -> int:
    return run("squeue", _main, argv)
