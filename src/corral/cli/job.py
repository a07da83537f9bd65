"""``corral job``: look at and act on one job (info, eventlog, wait-event, urgency, wait,
attach, kill, raise, requeue)."""

import json
import sys

from .. import eventlog, signals
from ..client import RPCError, connect
from . import CommandError
from .interrupt import follow
from .progress import Progress
from .run import attach
from .submit import parse_urgency


def register(subparsers):
    parser = subparsers.add_parser("job", help="look at or act on one job")
    commands = parser.add_subparsers(dest="job_command", metavar="SUBCOMMAND", required=True)

    info = commands.add_parser("info", help="print a job's jobspec, R or eventlog")
    info.add_argument("id", type=int)
    info.add_argument("key", choices=("jobspec", "R", "eventlog"))
    info.set_defaults(func=_info)

    log = commands.add_parser("eventlog", help="print a job's eventlog")
    log.add_argument("--format", choices=("text", "json"), default="text")
    log.add_argument("--time-format", choices=("raw", "iso", "offset"), default="raw")
    log.add_argument("-f", "--follow", action="store_true", help="wait for new events")
    log.add_argument("id", type=int)
    log.set_defaults(func=_eventlog)

    wait_event = commands.add_parser("wait-event", help="wait for an event in a job's eventlog")
    wait_event.add_argument("--timeout", type=float, help="give up after this many seconds")
    wait_event.add_argument("--format", choices=("text", "json"), default="text")
    wait_event.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    wait_event.add_argument("id", type=int)
    wait_event.add_argument("name")
    wait_event.set_defaults(func=_wait_event)

    urgency = commands.add_parser("urgency", help="set a job's urgency")
    urgency.add_argument("-v", "--verbose", action="store_true", help="print the old urgency")
    urgency.add_argument("id", type=int)
    urgency.add_argument("urgency", help="0-31, or hold, default, expedite")
    urgency.set_defaults(func=_urgency)

    wait = commands.add_parser("wait", help="wait for jobs to end (all of yours without ID)")
    wait.add_argument("id", type=int, nargs="?")
    wait.set_defaults(func=_wait)

    purge = commands.add_parser(
        "purge", help="remove inactive jobs for good (only counts them without --force)")
    purge.add_argument("--age-limit", metavar="FSD", help="jobs inactive for longer than this")
    purge.add_argument("--num-limit", type=int, metavar="N", help="keep at most N inactive jobs")
    purge.add_argument("--batch", type=int, default=50, help="at most this many (default 50)")
    purge.add_argument("-f", "--force", action="store_true", help="really remove them")
    purge.add_argument("ids", nargs="*", type=int, metavar="ID")
    purge.set_defaults(func=_purge)

    memo = commands.add_parser("memo", help="set (or with KEY=null, remove) job memos")
    memo.add_argument("id", type=int)
    memo.add_argument("memos", nargs="+", metavar="KEY=VALUE")
    memo.set_defaults(func=_memo)

    attach_parser = commands.add_parser("attach", help="stream a job's output, exit with its "
                                                       "status")
    attach_parser.add_argument("id", type=int)
    attach_parser.set_defaults(func=_attach)

    kill = commands.add_parser("kill", help="send a signal to a running job's tasks")
    kill.add_argument("-s", "--signal", default="SIGTERM",
                      help="a name (TERM, SIGUSR1, usr1) or a number (default SIGTERM)")
    kill.add_argument("id", type=int)
    kill.set_defaults(func=_kill)

    raise_ = commands.add_parser("raise", help="raise an exception on a job")
    raise_.add_argument("-s", "--severity", type=int, default=0)
    raise_.add_argument("-t", "--type", default="cancel")
    raise_.add_argument("id", type=int)
    raise_.add_argument("note", nargs="*")
    raise_.set_defaults(func=_raise)

    requeue = commands.add_parser(
        "requeue", help="end a job's run and queue it again (instance owner only)")
    requeue.add_argument("--hold", action="store_true", help="hold it once requeued")
    requeue.add_argument("ids", nargs="+", type=int, metavar="ID")
    requeue.set_defaults(func=_requeue)

    update = commands.add_parser(
        "update", help="update attributes of a pending (or, as owner, running) job",
        description="Update attributes of a pending (or, as owner, running) job. KEY is a "
                    "jobspec path; one not under attributes., resources. or tasks. means "
                    "attributes.system.KEY ('name' means the job name).  VALUE is JSON or a "
                    "string (always a string for name and queue); a duration is an FSD, "
                    "'+FSD' or '-FSD' changes the current one.")
    update.add_argument("-n", "--dry-run", action="store_true",
                        help="print the update instead of sending it")
    update.add_argument("id", type=int)
    update.add_argument("updates", nargs="+", metavar="KEY=VALUE")
    update.set_defaults(func=_update)


def _info(args):
    with connect() as client:
        answer = client.job_info(args.id, args.key)
    if args.key == "eventlog":
        for event in answer["eventlog"]:
            print(eventlog.encode(event))
    else:
        print(json.dumps(answer[args.key], indent=None, separators=(",", ":")))


def _print_event(event, args, t0):
    if args.format == "json":
        print(eventlog.encode(event), flush=True)
    else:
        print(eventlog.format_text(event, getattr(args, "time_format", "raw"), t0), flush=True)


def _eventlog(args):
    with connect() as client:
        events = client.watch_eventlog(args.id) if args.follow else client.eventlog(args.id)
        t0 = None
        for event in events:
            if t0 is None:
                t0 = event["timestamp"]
            _print_event(event, args, t0)


def _wait_event(args):
    with connect() as client:
        event = client.wait_event(args.id, args.name, args.timeout)
    if not args.quiet:
        _print_event(event, args, event["timestamp"])


def _urgency(args):
    with connect() as client:
        old = client.set_urgency(args.id, parse_urgency(args.urgency))
    if args.verbose:
        print(old)


def _wait(args):
    with connect() as client:
        if args.id is not None:
            outcome = client.wait(args.id)
            if not outcome["success"]:
                print(f"corral job wait: {args.id}: {outcome['errstr']}", file=sys.stderr)
                return 1
            return 0
        status = 0
        for job in client.jobs():
            outcome = client.wait(job["id"])
            if not outcome["success"]:
                print(f"corral job wait: {job['id']}: {outcome['errstr']}", file=sys.stderr)
                status = 1
        return status


def _purge(args):
    from .. import fsd

    payload = {"force": args.force, "batch": args.batch}
    if args.ids:
        payload["jobs"] = args.ids
    if args.age_limit is not None:
        try:
            payload["age_limit"] = fsd.parse(args.age_limit)
        except ValueError as exc:
            print(f"corral job purge: --age-limit: {exc}", file=sys.stderr)
            return 1
    if args.num_limit is not None:
        payload["num_limit"] = args.num_limit
    with connect() as client:
        if args.force:
            count, matched = _purge_in_slices(client, payload)
        else:
            answer = client.rpc("job-manager.purge", payload)
            count, matched = answer["count"], answer["matched"]
    verb = "purged" if args.force else "would purge (use --force)"
    beyond = matched - count
    more = f" ({beyond} more beyond --batch {args.batch})" if beyond > 0 else ""
    print(f"{verb} {count} jobs{more}")


#: Jobs one purge request removes: each request holds the controller's event loop while it
#: deletes, so a large purge is several shorter requests (and a bar can show how far it is).
#: Each request selects again, so slices are not made much smaller than this.
_PURGE_SLICE = 2000


def _purge_in_slices(client, payload) -> tuple[int, int]:
    """``(purged, matched)`` of a forced purge, sent `_PURGE_SLICE` jobs at a time after a
    dry run that checks every id and counts (so a bad id still purges nothing)."""
    ids = list(dict.fromkeys(payload["jobs"])) if "jobs" in payload else None
    counted = client.rpc("job-manager.purge", dict(payload, force=False))
    total = counted["count"]
    purged = 0
    with Progress("purge", total) as progress:
        while purged < total:
            size = min(_PURGE_SLICE, total - purged)
            request = dict(payload, batch=size)
            if ids is not None:
                request["jobs"] = ids[purged:purged + size]
            count = client.rpc("job-manager.purge", request)["count"]
            purged += count
            progress.update(purged)
            if count < size:
                break
    return purged, counted["matched"]


def _memo(args):
    memos = {}
    for item in args.memos:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"corral job memo: '{item}' is not KEY=VALUE", file=sys.stderr)
            return 1
        try:
            memos[key] = json.loads(value)
        except json.JSONDecodeError:
            memos[key] = value
    with connect() as client:
        client.rpc("job-manager.memo", {"id": args.id, "memo": memos})


def _requeue(args):
    status = 0
    with connect() as client:
        for job_id in args.ids:
            try:
                client.rpc("job-manager.requeue", {"id": job_id, "hold": args.hold})
            except RPCError as exc:
                print(f"corral job requeue: {job_id}: {exc.strerror or exc}", file=sys.stderr)
                status = 1
    return status


def _attach(args):
    with connect() as client:
        return follow(client, args.id, "corral job attach", attach)


def _kill(args):
    try:
        signum = signals.number(args.signal)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    with connect() as client:
        client.kill(args.id, signum)


def _raise(args):
    with connect() as client:
        try:
            client.raise_exception(args.id, args.type, args.severity, " ".join(args.note))
        except RPCError as exc:
            print(f"corral job raise: {exc.strerror}", file=sys.stderr)
            return 1


_UPDATE_ROOTS = ("attributes.", "resources.", "tasks.")
_DURATION_KEY = "attributes.system.duration"
#: Keys whose value is text whatever it looks like (``name=2024`` names the job "2024").
_TEXT_KEYS = ("attributes.system.job.name", "attributes.system.queue")


def _update_key(key: str) -> str:
    if key == "name":
        return "attributes.system.job.name"
    if key.startswith(_UPDATE_ROOTS) or key in ("attributes", "resources", "tasks"):
        return key
    return "attributes.system." + key


def _duration_value(client, job_id, text) -> float:
    """Seconds from an FSD, or the job's current duration changed by ``+FSD``/``-FSD``."""
    from .. import fsd

    relative = text[:1] in ("+", "-")
    try:
        seconds = fsd.parse(text[1:] if relative else text)
    except ValueError as exc:
        raise SystemExit(f"corral job update: {exc}") from None
    if not relative:
        return seconds
    spec = client.job_info(job_id, "jobspec")["jobspec"]
    current = spec.get("attributes", {}).get("system", {}).get("duration", 0)
    if not current:
        raise SystemExit("corral job update: cannot change an unlimited duration by "
                         f"{text}; give a new duration")
    updated = current + seconds if text[0] == "+" else current - seconds
    if updated <= 0:
        raise SystemExit(f"corral job update: {text} would leave no time limit")
    return updated


def _update(args):
    with connect() as client:
        updates = {}
        for item in args.updates:
            key, sep, text = item.partition("=")
            if not sep or not key:
                raise SystemExit(f"corral job update: '{item}' is not KEY=VALUE")
            key = _update_key(key)
            if key == _DURATION_KEY:
                updates[key] = _duration_value(client, args.id, text)
                continue
            if key in _TEXT_KEYS:
                updates[key] = text
                continue
            try:
                updates[key] = json.loads(text)
            except json.JSONDecodeError:
                updates[key] = text
        if args.dry_run:
            print(json.dumps(updates))
            return 0
        client.rpc("job-manager.update", {"id": args.id, "updates": updates})
