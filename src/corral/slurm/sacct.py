"""``sacct``: finished and current jobs from corral's own job history, in Slurm's columns.

Jobs of the caller by default (``-a`` all users, ``-u`` some), that were active between
``-S`` (default: midnight today, or ever with ``-j``) and ``-E`` (default: now); a batch job
also has its ``ID.batch`` row, and each of its steps an ``ID.N`` row, unless ``-X``.  As in
Slurm, ``-j ID.N`` or ``-j ID.batch`` selects that row alone, without its job's (so ``-X``
leaves nothing of it).  Nothing to show is a header and exit 0.
"""

import os
import sys
import time

from . import CLUSTER_NAME, formats, options, records, run, states, steps, times
from .options import Option

#: The list options add up when given again (``-j 1 -j 2``, as submitit asks), as Slurm's.
_OPTIONS = [
    Option("jobs", "j", accumulate=True), Option("allocations", "X", takes_value=False),
    Option("noheader", "n", takes_value=False), Option("parsable2", "P", takes_value=False),
    Option("parsable", "p", takes_value=False), Option("format", "o", accumulate=True),
    Option("starttime", "S"), Option("endtime", "E"), Option("name", accumulate=True),
    Option("user", "u", accumulate=True),
    Option("allusers", "a", takes_value=False), Option("state", "s", accumulate=True),
    Option("brief", "b", takes_value=False), Option("clusters", "M", accumulate=True),
]
_BRIEF = "JobID,State,ExitCode"


def _cancelled_by(client, job: records.SlurmJob) -> str:
    """``CANCELLED by UID``: who raised the cancel is in the job's eventlog only."""
    for event in reversed(client.eventlog(job.id)):
        context = event.get("context") or {}
        if event["name"] == "exception" and context.get("type") == "cancel":
            if context.get("userid") is not None:
                return f"CANCELLED by {context['userid']}"
    return job.state


def _values(job: records.SlurmJob, now: float, batch: bool) -> dict:
    first_node = job.nodelist.split(",")[0] if job.nodelist else "None assigned"
    values = {
        "JobID": job.display_id + (".batch" if batch else ""),
        "JobIDRaw": str(job.id) + (".batch" if batch else ""),
        "JobName": "batch" if batch else job.name,
        "State": job.state,
        "ExitCode": job.exit_code,
        "Elapsed": times.sacct_duration(job.elapsed(now)),
        "ElapsedRaw": str(int(job.elapsed(now))),
        "Start": times.timestamp(job.start_time, "Unknown"),
        "End": times.timestamp(job.end_time, "Unknown"),
        "Submit": times.timestamp(job.submit_time, "Unknown"),
        "NodeList": first_node if batch else (job.nodelist or "None assigned"),
        "AllocCPUS": str(job.cpus if job.start_time else 0),
        "AllocNodes": str(job.nnodes if job.start_time else 0),
        "NNodes": "1" if batch else str(job.nnodes),
        "NTasks": "1" if batch else "",
        "User": "" if batch else job.user,
        "UID": "" if batch else str(job.uid),
        "Partition": "" if batch else job.partition,
        "Account": job.account,
        "QOS": "" if batch else job.qos,
        "Priority": "" if batch else str(job.priority),
        "Reason": job.reason(),
        "ReqMem": job.memory,
        "Timelimit": "" if batch else times.limit_text(job.time_limit, times.sacct_duration),
        "WorkDir": job.work_dir,
    }
    return values


def _step_values(job: records.SlurmJob, step: steps.SlurmStep, now: float) -> dict:
    values = _values(job, now, True)
    values.update({
        "JobID": step.display_id, "JobIDRaw": f"{job.id}.{step.number}", "JobName": step.name,
        "State": step.state, "ExitCode": step.exit_code,
        "Elapsed": times.sacct_duration(step.elapsed(now)),
        "ElapsedRaw": str(int(step.elapsed(now))),
        "Start": times.timestamp(step.start_time, "Unknown"),
        "End": times.timestamp(step.end_time, "Unknown"), "NodeList": step.nodelist,
        "AllocCPUS": str(step.cpus), "AllocNodes": str(step.nnodes),
        "NNodes": str(step.nnodes), "NTasks": str(step.ntasks)})
    return values


def _selection(ids: list[str]) -> dict[str, set[str] | None]:
    """``-j``'s jobs, each with the rows asked for: ``None`` for all of them (``12``), else
    the steps named (``12.batch``, ``12.0``: ``{"batch", "0"}``)."""
    selection = {}
    for text in ids:
        job_text, dot, step = text.partition(".")
        if not dot:
            selection[job_text] = None
        elif step == "batch" or step.isdecimal():
            if selection.get(job_text, ()) is not None:
                selection.setdefault(job_text, set()).add(step if step == "batch"
                                                          else str(int(step)))
        else:
            raise ValueError(f"Invalid job id: {text}")
    return selection


def _this_cluster(clusters: str | None) -> bool:
    """Whether ``-M/--clusters`` (default: this one) selects corral's one cluster."""
    names = {name.strip().lower() for name in (clusters or CLUSTER_NAME).split(",")}
    return bool(names & {"all", "-1", CLUSTER_NAME})


def _window(values, ids, now) -> tuple[float, float]:
    """``-S`` and ``-E`` in epoch seconds, read as times gone by (``HH:MM`` is today's, not
    tomorrow's as for ``--begin``), as Slurm's sacct reads them; ``-S`` is midnight today by
    default, or ever with ``-j``, and ``-E`` now."""
    if values.get("starttime"):
        start = times.parse_time(values["starttime"], now, past=True)
    else:
        start = 0 if ids else times.parse_time("today", now)
    end = times.parse_time(values["endtime"], now, past=True) if values.get("endtime") else now
    return start, end


def _main(argv) -> int:
    values, rest = options.parse("sacct", argv, _OPTIONS)
    if rest:
        raise options.OptionError(f"unrecognized argument '{rest[0]}'")
    fields = formats.parse_sacct_format(values.get("format") or (
        _BRIEF if values.get("brief") else os.environ.get("SACCT_FORMAT")
        or formats.SACCT_DEFAULT))
    now = time.time()
    ids = records.split_ids(values.get("jobs"))
    start, end = _window(values, ids, now)
    userid = -1 if values.get("allusers") or ids else os.getuid()
    if values.get("user"):
        uids = {records.user_id(name) for name in values["user"].split(",")}
        userid = next(iter(uids)) if len(uids) == 1 else -1
    from ..client import connect

    with connect() as client:
        rows_of = {}  # job id -> the rows -j asked for (None: all)
        if not _this_cluster(values.get("clusters")):
            jobs = []
        elif ids:
            jobs = []
            for text, steps_asked in _selection(ids).items():
                for job in records.lookup(client, text):
                    if job.id not in rows_of:
                        jobs.append(job)
                        rows_of[job.id] = steps_asked
                    elif rows_of[job.id] is not None:
                        rows_of[job.id] = None if steps_asked is None else (
                            rows_of[job.id] | steps_asked)
        else:
            jobs = records.fetch(client, userid, since=max(start, 1))
        jobs.sort(key=lambda job: job.id)
        lines = _lines(client, jobs, fields, values, now, start, end, rows_of)
    sys.stdout.write("\n".join(lines) + "\n" if lines else "")
    return 0


def _lines(client, jobs, fields, values, now, start, end, rows_of) -> list[str]:
    """The header (unless ``-n``) and a row (and its ``.batch`` and step rows) per selected
    job; of a job in ``rows_of``, only the steps named there."""
    wanted_states = states.parse_state_list(values["state"]) if values.get("state") else None
    names = set(filter(None, (values.get("name") or "").split(",")))
    uids = ({records.user_id(name) for name in values["user"].split(",")}
            if values.get("user") else None)
    parsable = "|" if values.get("parsable") else ("" if values.get("parsable2") else None)
    lines = []
    if not values.get("noheader"):
        lines.append(formats.sacct_line(fields, {}, parsable, header=True))
        if parsable is None:
            lines.append(formats.sacct_rule(fields))
    selected = [job for job in jobs
                if (uids is None or job.uid in uids) and (not names or job.name in names)
                and (wanted_states is None or job.state in wanted_states)
                and not (job.submit_time > end or (job.finished and job.end_time
                                                   and job.end_time < start))]
    job_steps = {} if values.get("allocations") else steps.of_jobs(client, selected)
    for job in selected:
        asked = rows_of.get(job.id)
        if asked is None:
            row = _values(job, now, False)
            if job.state == "CANCELLED" and any(name == "State" for name, _width in fields):
                row["State"] = _cancelled_by(client, job)
            lines.append(formats.sacct_line(fields, row, parsable))
        if values.get("allocations"):
            continue
        if job.memo.get("batch") and job.start_time and (asked is None or "batch" in asked):
            lines.append(formats.sacct_line(fields, _values(job, now, True), parsable))
        for step in job_steps.get(job.id, ()):
            if asked is None or str(step.number) in asked:
                lines.append(formats.sacct_line(fields, _step_values(job, step, now),
                                                parsable))
    return lines


def main(argv) -> int:
    return run("sacct", _main, argv)
