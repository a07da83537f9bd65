"""``corral jobs``: list jobs (active by default), with Python format strings as in Flux."""

import json
import pwd
import sys
import time

from .. import fsd
from ..client import connect
from ..states import (
    RESULT_SHORT_NAMES,
    STATE_SHORT_NAMES,
    Result,
    State,
    parse_results,
    parse_states,
)

DEFAULT_FORMAT = ("{id:>8} {username:<8.8} {name:<10.10+} {status_abbrev:>2} {ntasks:>6} "
                  "{nnodes:>6} {runtime!F:>8} {nodelist}")

_HEADERS = {
    "id": "JOBID", "username": "USER", "userid": "UID", "name": "NAME", "status_abbrev": "ST",
    "state": "STATE", "result": "RESULT", "ntasks": "NTASKS", "nnodes": "NNODES",
    "runtime": "TIME", "nodelist": "NODELIST", "priority": "PRI", "urgency": "URG",
    "queue": "QUEUE", "t_submit": "T_SUBMIT", "t_run": "T_RUN", "t_inactive": "T_INACTIVE",
    "exception_type": "EXCEPTION", "exception_note": "NOTE", "waitstatus": "STATUS",
    "restarts": "RESTARTS", "reason": "REASON", "t_estimate": "T_ESTIMATE",
}


def register(subparsers):
    parser = subparsers.add_parser("jobs", help="list jobs")
    parser.add_argument("-a", action="store_true", help="all jobs, inactive ones included")
    parser.add_argument("-A", action="store_true", help="jobs of every user")
    parser.add_argument("-u", "--user", help="jobs of this user (name, uid or 'all')")
    parser.add_argument("-f", "--filter", help="states or results, e.g. pending,running")
    parser.add_argument("-o", "--format", default=DEFAULT_FORMAT, help="Python format string")
    parser.add_argument("-n", "--no-header", action="store_true")
    parser.add_argument("-c", "--count", type=int, default=0, help="at most this many")
    parser.add_argument("--json", action="store_true", help="one JSON object per job")
    parser.add_argument("ids", nargs="*", type=int, metavar="ID")
    parser.set_defaults(func=main)


def _filter(text):
    states, results = 0, 0
    for word in text.split(","):
        try:
            states |= parse_states(word)
        except ValueError:
            results |= parse_results(word)
    if results:
        states |= int(State.INACTIVE)
    return states, results


def _userid(args):
    if args.A or args.user == "all":
        return -1
    if args.user is None:
        return None
    if args.user.isdigit():
        return int(args.user)
    try:
        return pwd.getpwnam(args.user).pw_uid
    except KeyError:
        raise SystemExit(f"corral jobs: unknown user '{args.user}'") from None


class _Row(dict):
    """Fields for a format string, with the extras flux-jobs offers."""

    def __missing__(self, key):
        raise SystemExit(f"corral jobs: unknown format field '{key}'")


def fields(job: dict) -> dict:
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
    return _Row(job, username=username, status_abbrev=status_abbrev,
                t_estimate=sched.get("t_estimate") or 0.0,
                state=job["state_name"], result=job.get("result_name") or "",
                runtime=(end - start) if start else 0.0, nodelist=job.get("nodelist") or "",
                exception_type=exception.get("type", ""),
                exception_note=exception.get("note", ""),
                waitstatus=job.get("waitstatus") if job.get("waitstatus") is not None else "",
                name=job.get("name") or "", queue=job.get("queue") or "")


class _Formatter:
    """str.format with Flux's extras: ``!F`` renders an FSD duration, ``+`` in a width
    marks truncation with '+'."""

    def render(self, fmt: str, row: dict) -> str:
        import string

        out = []
        for literal, field, spec, conversion in string.Formatter().parse(fmt):
            out.append(literal)
            if field is None:
                continue
            value = row[field]
            if conversion == "F":
                value = fsd.format(value, precision=2) if value else "-"
                conversion = None
            truncate = spec.endswith("+")
            if truncate:
                spec = spec[:-1]
            if conversion:
                value = {"r": repr, "s": str, "a": ascii}[conversion](value)
            text = format(value, spec)
            if truncate and "." in spec:
                width = int(spec.split(".")[1])
                if len(str(value)) > width:
                    text = text[: width - 1] + "+" + text[width:]
            out.append(text)
        return "".join(out)

    def header(self, fmt: str) -> str:
        import string

        out = []
        for literal, field, spec, _conversion in string.Formatter().parse(fmt):
            out.append(literal)
            if field is None:
                continue
            spec = spec.rstrip("+")
            if "." in spec:
                spec = spec.split(".")[0]
            spec = spec.lstrip("0")
            out.append(format(_HEADERS.get(field, field.upper()), spec.rstrip("dfeg")))
        return "".join(out)


def main(args) -> int:
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
    if args.json:
        for job in jobs:
            print(json.dumps(job, separators=(",", ":")))
        return 0
    formatter = _Formatter()
    lines = []
    if not args.no_header:
        lines.append(formatter.header(args.format).rstrip())
    for job in jobs:
        lines.append(formatter.render(args.format, fields(job)).rstrip())
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0
