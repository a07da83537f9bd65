"""``corral jobs``: list jobs (active by default), with Python format strings as in Flux."""

import datetime
import json
import pwd
import re
import string
import sys
import time

from .. import fsd, waitstatus
from ..client import connect
from ..slurm import records
from ..slurm import states as slurm_states
from ..states import (
    RESULT_SHORT_NAMES,
    STATE_SHORT_NAMES,
    Result,
    State,
    parse_results,
    parse_states,
)
from . import CommandError

DEFAULT_FORMAT = ("{id:>8} {username:<8.8} {name:<10.10+} {status_abbrev:>2} {ntasks:>6} "
                  "{nnodes:>6} {runtime!F:>8h} {contextual_info}")

_HEADERS = {
    "id": "JOBID", "username": "USER", "userid": "UID", "name": "NAME", "status_abbrev": "ST",
    "state": "STATE", "result": "RESULT", "ntasks": "NTASKS", "nnodes": "NNODES",
    "runtime": "TIME", "nodelist": "NODELIST", "priority": "PRI", "urgency": "URG",
    "queue": "QUEUE", "t_submit": "T_SUBMIT", "t_run": "T_RUN", "t_inactive": "T_INACTIVE",
    "exception_type": "EXCEPTION", "exception_note": "NOTE", "waitstatus": "STATUS",
    "returncode": "RC", "restarts": "RESTARTS", "reason": "REASON", "t_estimate": "T_ESTIMATE",
    "contextual_info": "INFO",
}
#: Every format field: the summary's and those `fields` adds.
_FIELDS = set(_HEADERS) | {"t_depend", "t_sched", "t_cleanup", "exception", "annotations",
                           "state_name", "result_name"}
#: Fields that need Slurm's view of the pending jobs (their reasons).
_REASON_FIELDS = {"reason", "contextual_info"}


def register(subparsers):
    parser = subparsers.add_parser("jobs", help="list jobs")
    parser.add_argument("-a", action="store_true", help="all jobs, inactive ones included")
    parser.add_argument("-A", action="store_true", help="jobs of every user")
    parser.add_argument("-u", "--user", help="jobs of this user (name, uid or 'all')")
    parser.add_argument("-f", "--filter",
                        help="states or results, Flux's or Slurm's names: pending,running, PD,R")
    parser.add_argument("-o", "--format", default=DEFAULT_FORMAT, help="Python format string")
    parser.add_argument("-n", "--no-header", action="store_true")
    parser.add_argument("-c", "--count", type=int, default=0, help="at most this many")
    parser.add_argument("--json", action="store_true", help="one JSON object per job")
    parser.add_argument("ids", nargs="*", type=int, metavar="ID")
    parser.set_defaults(func=main)


def _filter(text):
    """``(states, results)`` of a ``-f`` list: Flux's state and result names, Slurm's state
    names and compact forms (``PD``, ``R``, ``CD``...), any case."""
    states, results = 0, 0
    for word in text.split(","):
        slurm = slurm_states.corral_filter(word)
        if slurm is not None:
            states |= slurm[0]
            results |= slurm[1]
            continue
        try:
            states |= parse_states(word)
        except ValueError:
            try:
                results |= parse_results(word)
            except ValueError:
                raise CommandError(
                    f"-f: unknown state or result '{word.strip()}' (Flux's: "
                    "pending, running, sched, completed, failed, ...; Slurm's: PD, R, CG, CD, "
                    "F, CA, TO, ...)") from None
    if results:
        states |= int(State.INACTIVE)
    return states, results


def _userid(args):
    if args.A or args.user == "all":
        return -1
    if args.user is None:
        return None
    if args.user.isdecimal():
        return int(args.user)
    try:
        return pwd.getpwnam(args.user).pw_uid
    except KeyError:
        raise CommandError(f"unknown user '{args.user}'") from None


class _Row(dict):
    """Fields for a format string, with the extras flux-jobs offers."""

    def __missing__(self, key):
        raise CommandError(f"unknown format field '{key}'")


def fields(job: dict, reason: str = "") -> dict:
    """The format fields of one job summary; ``reason`` is Slurm's for a pending job."""
    try:
        username = pwd.getpwuid(job["userid"]).pw_name
    except KeyError:
        username = str(job["userid"])
    state = State(job["state"])
    if state == State.INACTIVE:
        result = job.get("result")
        status_abbrev = RESULT_SHORT_NAMES[Result(result)] if result else "I"
    else:
        status_abbrev = STATE_SHORT_NAMES[state]
    start = job.get("t_run")
    end = job.get("t_cleanup") or (time.time() if start else None)
    exception = job.get("exception") or {}
    sched = (job.get("annotations") or {}).get("sched") or {}
    returncode = waitstatus.returncode(job.get("waitstatus"))
    return _Row(job, username=username, status_abbrev=status_abbrev,
                t_estimate=sched.get("t_estimate") or 0.0,
                state=job["state_name"], result=job.get("result_name") or "",
                runtime=(end - start) if start else 0.0, nodelist=job.get("nodelist") or "",
                exception_type=exception.get("type", ""),
                exception_note=exception.get("note", ""),
                waitstatus=job.get("waitstatus") if job.get("waitstatus") is not None else "",
                returncode=returncode if returncode is not None else "",
                name=job.get("name") or "", queue=job.get("queue") or "", reason=reason,
                contextual_info=_contextual_info(job, reason))


def _contextual_info(job: dict, reason: str) -> str:
    """What ``flux jobs`` shows last: where a job runs (ran), or why it waits, in brackets
    as squeue's ``NODELIST(REASON)``; a system hold adds what held it."""
    if not reason:
        return job.get("nodelist") or ""
    said = job.get("reason")
    if reason == "JobHeldAdmin" and said:
        return f"({reason}: {said})"
    return f"({reason})"


def _reasons(client, jobs: list[dict]) -> dict[int, str]:
    """Slurm's reason for each pending job, as squeue gives it."""
    slurm_jobs = [records.SlurmJob(job) for job in jobs]
    records.mark_first_in_line(slurm_jobs)
    owner = records.owner_uid(client)
    now = time.time()
    return {job.id: job.reason(owner, now) for job in slurm_jobs if job.state == "PENDING"}


class _Formatter:
    """str.format with Flux's extras (flux-jobs(1)): ``!D`` a timestamp as ISO 8601 local
    time, ``!d`` as a `datetime` (so that ``{t_run!d:%H:%M}`` works), ``!F`` a duration as
    an FSD, ``!H`` as hours:minutes:seconds; a spec ending in ``h`` prints ``-`` for an
    empty or zero value, a width ending in ``+`` marks truncation with '+'."""

    def __init__(self, fmt: str):
        try:
            self.parts = list(string.Formatter().parse(fmt))
        except ValueError as exc:
            raise CommandError(f"-o: {exc}") from None
        for _literal, field, _spec, conversion in self.parts:
            if field is not None and field not in _FIELDS:
                raise CommandError(f"unknown format field '{field}'")
            if conversion is not None and conversion not in _CONVERSIONS:
                raise CommandError(f"-o: field '{field}': unknown conversion "
                                 f"'!{conversion}' ({', '.join(_CONVERSIONS)})")

    def fields(self) -> set[str]:
        return {field for _literal, field, _spec, _conversion in self.parts if field}

    def render(self, row: dict) -> str:
        out = []
        for literal, field, spec, conversion in self.parts:
            out.append(literal)
            if field is None:
                continue
            try:
                out.append(_render_field(row[field], spec, conversion))
            except (ValueError, TypeError, OverflowError, OSError) as exc:
                raise CommandError(f"-o: field '{field}': {exc}") from None
        return "".join(out)

    def header(self) -> str:
        out = []
        for literal, field, spec, _conversion in self.parts:
            out.append(literal)
            if field is None:
                continue
            spec = spec.rstrip("+h")
            if "." in spec:
                spec = spec.split(".")[0]
            spec = spec.lstrip("0").rstrip("dfeg")
            title = _HEADERS.get(field, field.upper())
            try:
                out.append(format(title, spec))
            except ValueError:  # a datetime spec (``%H:%M``) says nothing of a width
                out.append(title)
        return "".join(out)


_CONVERSIONS = ("r", "s", "a", "d", "D", "F", "H")
_EMPTY = ("", None, 0, 0.0, "0s", "0:00:00")


def _render_field(value, spec: str, conversion: str | None) -> str:
    dash = spec.endswith(("h", "h+"))
    truncate = spec.endswith(("+", "+h"))
    spec = spec.rstrip("+h") if dash or truncate else spec
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    # A number's spec applies to the text standing for it (an FSD, a time) and an unset
    # field's to its empty text; a text field's own spec must fit text (``{name:d}`` fails).
    stands_for = numeric or value in ("", None)
    if dash and value in _EMPTY:
        return format("-", _text_spec(spec, numeric))
    if conversion == "F":
        value = fsd.format(value, precision=2) if value not in ("", None) else ""
    elif conversion == "H":
        value = _hours(value) if value not in ("", None) else ""
    elif conversion == "D":
        value = (datetime.datetime.fromtimestamp(value).strftime("%Y-%m-%dT%H:%M:%S")
                 if value else "")
    elif conversion == "d":
        value = datetime.datetime.fromtimestamp(value or 0)
    elif conversion is not None:
        value = {"r": repr, "s": str, "a": ascii}[conversion](value)
    if isinstance(value, str) and stands_for:
        spec = _text_spec(spec, numeric)
    text = format(value, spec)
    if truncate and "." in spec:
        width = int(spec.split(".")[1])
        if len(str(value)) > width:
            text = text[: width - 1] + "+" + text[width:]
    return text


_SPEC = re.compile(r"(?P<align>.?[<>^=])?[-+ ]?#?0?(?P<width>\d*)[,_]?(?P<precision>\.\d+)?"
                   r"(?P<kind>[bcdeEfFgGnosxX%]?)")


def _text_spec(spec: str, numeric: bool) -> str:
    """The spec of a field applied to the text that stands for its value (an FSD, ``-``):
    its alignment and width; a number's text stays right-aligned."""
    match = _SPEC.fullmatch(spec)
    if match is None:
        return spec
    align = (match["align"] or "").replace("=", ">") or (">" if numeric else "")
    precision = match["precision"] or "" if not numeric else ""
    return f"{align}{match['width']}{precision}"


def _hours(seconds: float) -> str:
    """Seconds as ``H:MM:SS`` (hours beyond 24 are hours)."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def main(args) -> int:
    formatter = _Formatter(args.format)
    with connect() as client:
        if args.ids:
            jobs = [client.job(job_id) for job_id in args.ids]
        else:
            if args.filter:
                states, results = _filter(args.filter)
            elif args.a:
                states, results = int(State.ACTIVE | State.INACTIVE), 0
            else:
                states, results = int(State.ACTIVE), 0
            jobs = client.jobs(states=states, results=results, userid=_userid(args),
                               limit=args.count)
        reasons = _reasons(client, jobs) if formatter.fields() & _REASON_FIELDS else {}
    if args.json:
        for job in jobs:
            print(json.dumps(job, separators=(",", ":")))
        return 0
    lines = []
    if not args.no_header:
        lines.append(formatter.header().rstrip())
    for job in jobs:
        lines.append(formatter.render(fields(job, reasons.get(job["id"], ""))).rstrip())
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0
