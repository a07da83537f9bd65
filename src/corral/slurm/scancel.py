"""``scancel``: cancel jobs or array tasks, or signal them (``-s``), by id or by filter
(``-u``, ``-n``, ``-t``, ``-p``).

As Slurm's: a job already over is ``Job/step already completing or completed`` (not an error
with ``-Q``), an unknown id ``Invalid job id specified``; each is one line and exit status 1.
``-s`` on a batch job signals its running steps only, as Slurm's; ``-b`` the batch script's
process group instead (corral signals process groups), ``-f`` both.  ``ID.STEP`` cancels one
job step (SIGKILL to its tasks, or ``-s``'s signal).
"""

import errno
import os
import signal
import sys

from .. import signals
from ..client import RPCError
from . import options, records, run, states
from .options import Option

_OPTIONS = [
    Option("quiet", "Q", takes_value=False), Option("signal", "s"),
    Option("batch", "b", takes_value=False), Option("user", "u"), Option("name", "n"),
    Option("state", "t"), Option("partition", "p"), Option("full", "f", takes_value=False),
    Option("verbose", "v", takes_value=False, repeat=True),
    Option("me", takes_value=False),
]


def _signal_number(text: str) -> int:
    try:
        return signals.number(text)
    except ValueError:
        raise options.OptionError(f"Invalid job signal: {text}") from None


def _targets(client, values, ids):
    """The jobs named by ``ids`` and filters; unknown ids as errors."""
    filtered = any(values.get(name) for name in ("user", "name", "state", "partition", "me"))
    if not ids and not filtered:
        raise options.OptionError("No job identification provided")
    userid = -1
    if values.get("me"):
        userid = os.getuid()
    elif values.get("user"):
        userid = records.user_id(values["user"])
    wanted_states = states.parse_state_list(values["state"]) if values.get("state") else None
    errors = []
    chosen = []
    for text in ids:
        matches = records.lookup(client, text)
        if not matches:
            errors.append((text, "Invalid job id specified"))
        elif len(matches) > 1 and all(job.finished for job in matches):
            errors.append((text, _OVER))
        else:
            chosen.extend(_active_tasks(matches))
    if not ids:
        chosen = records.fetch(client, userid, active_only=True)
    elif userid != -1:
        chosen = [job for job in chosen if job.uid == userid]
    result = []
    for job in chosen:
        if values.get("name") and job.name != values["name"]:
            continue
        if values.get("partition") and job.partition != values["partition"]:
            continue
        if wanted_states is not None and job.state not in wanted_states:
            continue
        if filtered and job.finished:
            continue
        result.append(job)
    return result, errors


def _active_tasks(matches):
    """What an id cancels: an array's tasks still active (its ended ones are no error, as
    in Slurm, which signals the array and not each task), a single job whatever its state."""
    if len(matches) == 1:
        return matches
    return [job for job in matches if not job.finished]


def _main(argv) -> int:
    values, ids = options.parse("scancel", argv, _OPTIONS)
    signum = _signal_number(values["signal"]) if values.get("signal") else None
    from ..client import connect

    status = 0
    step_ids = [text for text in ids if "." in text]
    with connect() as client:
        for text in step_ids:
            why = _cancel_step(client, text, signum)
            if why is not None and not (values.get("quiet") and why == _OVER):
                print(f"scancel: error: Kill job error on job id {text}: {why}",
                      file=sys.stderr)
                status = 1
        ids = [text for text in ids if "." not in text]
        if step_ids and not ids:
            return status
        jobs, errors = _targets(client, values, ids)
        for text, why in errors:
            if values.get("quiet") and why == _OVER:
                continue
            print(f"scancel: error: Kill job error on job id {text}: {why}", file=sys.stderr)
            status = 1
        for job in jobs:
            why = _act(client, job, signum, values)
            if why is None:
                continue
            done = why == _OVER
            if done and values.get("quiet"):
                continue
            print(f"scancel: error: Kill job error on job id {job.display_id}: {why}",
                  file=sys.stderr)
            status = 1
    return status


_OVER = "Job/step already completing or completed"


def _cancel_step(client, text: str, signum) -> str | None:
    """Cancel step ``ID.STEP``; Slurm's words for why not, or None."""
    job_id, _dot, step = text.partition(".")
    if not job_id.isdecimal() or not step.isdecimal():
        return "Invalid job id specified"
    try:
        client.rpc("job-manager.step-kill", {"id": int(job_id), "step": int(step),
                                             "signal": signum or int(signal.SIGKILL)})
    except RPCError as exc:
        return _refusal(exc)
    return None


def _refusal(exc: RPCError) -> str:
    """Slurm's words for a refused cancel or signal."""
    if exc.errno == errno.EPERM:
        return "Access/permission denied"
    if exc.errno in (errno.ENOENT, errno.EINVAL):
        return _OVER
    return exc.strerror or str(exc)


def _act(client, job, signum, values) -> str | None:
    """Cancel or signal one job; Slurm's words for why not, or None.  A signal other than
    SIGKILL reaches a batch job's steps only, unless ``-b`` (the batch shell, not its steps)
    or ``-f`` (everything)."""
    if job.finished:
        return _OVER
    try:
        if signum is None or signum == signal.SIGKILL and job.state == "PENDING":
            client.cancel(job.id)
        elif job.state == "PENDING":
            return "Job is pending execution"
        elif signum == signal.SIGKILL or not job.memo.get("batch"):
            client.kill(job.id, signum)
        else:
            if values.get("batch") or values.get("full"):
                client.kill(job.id, signum)
            if not values.get("batch") or values.get("full"):
                from .steps import signal_running  # only signals need it

                signal_running(client, job.id, signum)
    except RPCError as exc:
        return _refusal(exc)
    return None


def main(argv) -> int:
    return run("scancel", _main, argv)
