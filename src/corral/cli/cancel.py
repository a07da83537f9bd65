"""``corral cancel``: raise a ``cancel`` exception on jobs (all of one's own with --all)."""

import sys

from .. import idset
from ..client import RPCError, connect
from ..states import State
from .progress import Progress


def register(subparsers):
    parser = subparsers.add_parser("cancel", help="cancel jobs")
    parser.add_argument("--all", action="store_true", help="all of your active jobs")
    parser.add_argument("-m", "--message", default="", help="note for the exception")
    parser.add_argument("ids", nargs="*", metavar="ID", help="job ids (or idsets: 3-7)")
    parser.set_defaults(func=main)


def main(args) -> int:
    if not args.all and not args.ids:
        print("corral cancel: give job ids or --all", file=sys.stderr)
        return 1
    status = 0
    with connect() as client:
        if args.all:
            count = _cancel_all(client, args.message)
            print(f"corral cancel: canceled {count} jobs", file=sys.stderr)
        for text in args.ids:
            try:
                ids = idset.decode(text)
            except ValueError:
                print(f"corral cancel: invalid job id '{text}'", file=sys.stderr)
                status = 1
                continue
            for job_id in ids:
                try:
                    client.cancel(job_id, args.message)
                except RPCError as exc:
                    print(f"corral cancel: {job_id}: {exc.strerror}", file=sys.stderr)
                    status = 1
    return status


def _cancel_all(client, message) -> int:
    """How many jobs were canceled; the instance answers slice by slice, and on a terminal a
    bar shows how far it is."""
    payload = {"type": "cancel", "severity": 0, "note": message,
               "states": int(State.PENDING | State.RUNNING)}
    count = 0
    with Progress("cancel", 0) as progress:
        for answer in client.stream("job-manager.raiseall", payload):
            count = answer["count"]
            progress.update(count, answer["total"])
    return count
