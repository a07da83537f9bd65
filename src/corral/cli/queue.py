"""``corral queue``: status, stop/start (allocation), enable/disable (submission), drain and
idle (wait for the queue to empty, or for nothing to run)."""

import errno

from ..client import RPCError, connect
from .progress import Progress

#: Seconds between two looks at how many jobs are left while ``drain`` waits on a terminal.
_DRAIN_POLL = 0.5


def register(subparsers):
    parser = subparsers.add_parser("queue", help="control and inspect queues")
    commands = parser.add_subparsers(dest="queue_command", metavar="SUBCOMMAND", required=True)
    status = commands.add_parser("status", help="show whether queues are enabled and started")
    status.add_argument("-q", "--queue")
    status.set_defaults(func=_status)
    for name, help_text in (("stop", "stop allocating resources to jobs"),
                            ("start", "start allocating resources to jobs"),
                            ("enable", "accept submissions"),
                            ("disable", "refuse submissions")):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("-q", "--queue")
        sub.add_argument("reason", nargs="*")
        sub.set_defaults(func=_control, action=name)
    drain = commands.add_parser("drain", help="wait until no job is active")
    drain.set_defaults(func=_drain)
    idle = commands.add_parser("idle", help="wait until no job is running")
    idle.set_defaults(func=_wait, topic="job-manager.queue-idle")


def _status(args):
    with connect() as client:
        answer = client.rpc("job-manager.queue-status", {"name": args.queue})
    for queue in answer["queues"]:
        label = f"{queue['name']}: " if queue["name"] else ""
        enabled = "enabled" if queue["enabled"] else "disabled"
        if not queue["enabled"] and queue["disable_reason"]:
            enabled += f" ({queue['disable_reason']})"
        started = "started" if queue["started"] else "stopped"
        if not queue["started"] and queue["stop_reason"]:
            started += f" ({queue['stop_reason']})"
        print(f"{label}Job submission is {enabled}")
        print(f"{label}Scheduling is {started}")


def _control(args):
    reason = " ".join(args.reason) or None
    with connect() as client:
        if args.action in ("stop", "start"):
            client.rpc("job-manager.queue-start",
                       {"name": args.queue, "start": args.action == "start", "reason": reason})
        else:
            client.rpc("job-manager.queue-enable",
                       {"name": args.queue, "enable": args.action == "enable", "reason": reason})


def _wait(args):
    with connect() as client:
        client.rpc(args.topic)


def _active_jobs(client) -> int:
    states = client.rpc("job-list.job-stats")["job_states"]
    return states["total"] - states["inactive"]


def _drain(args):
    """Wait for the queue to drain; on a terminal, a bar counts the jobs that ended."""
    with connect() as client:
        tag = client.send("job-manager.queue-drain")
        with Progress("drain", 0) as progress:
            if not progress.shown:
                client.answer(tag)
                return
            total = _active_jobs(client)
            done = 0
            progress.update(done, total)
            while True:
                try:
                    client.answer(tag, timeout=_DRAIN_POLL)
                    progress.update(total, total)
                    return
                except RPCError as exc:
                    if exc.errno != errno.ETIMEDOUT:
                        raise
                active = _active_jobs(client)
                done = max(done, total - active)
                total = max(total, done + active)  # jobs submitted meanwhile count too
                progress.update(done, total)
