"""``corral top``: a live full-screen view of the instance, as ``flux top`` gives.

Built on the standard library's curses rather than a framework such as Textual: no
dependency to install, a start-up in tens of milliseconds instead of hundreds, and a screen
that is plain text lines (`top_screen`), which ``--once`` prints and tests read in a real
terminal.  `top_watch` fetches; `top_screen` lays out; `top_terminal` reads keys and paints
(imported only for the live view, so ``--once`` runs where curses is missing).

Keys: ``q`` quits (Ctrl-C too), up/down (or ``k``/``j``) select a job, Enter opens it
(eventlog and the tail of its output) and Esc or ``q`` goes back, ``s`` steps through the sort
keys and ``r`` reverses, ``u`` and ``f`` ask for a user and a queue to show (empty: all).
"""

import pwd
import shutil
import sys

from ..client import connect
from . import top_screen
from .top_watch import Watch, default_userid


def register(subparsers):
    parser = subparsers.add_parser("top", help="live view of nodes, queue and running jobs")
    parser.add_argument("-d", "--delay", type=float, default=2.0, metavar="SECONDS",
                        help="seconds between refreshes (default 2)")
    parser.add_argument("-u", "--user", help="only this user's jobs (name or uid)")
    parser.add_argument("-q", "--queue", help="only this queue's jobs")
    parser.add_argument("--once", action="store_true",
                        help="print the view once as text and exit (off a terminal: every "
                             "node and every job fetched, lines whole)")
    parser.set_defaults(func=main)


def parse_user(text: str) -> int:
    """A uid from a name or number; -1 for '' or 'all'.  ValueError names what is wrong."""
    if text in ("", "all"):
        return -1
    if text.isdecimal():
        return int(text)
    try:
        return pwd.getpwnam(text).pw_uid
    except KeyError:
        raise ValueError(f"unknown user '{text}'") from None


def main(args) -> int:
    if args.delay <= 0:
        print("corral top: --delay must be a positive number of seconds", file=sys.stderr)
        return 1
    if not args.once and not (sys.stdout.isatty() and sys.stdin.isatty()):
        print("corral top: not a terminal (use --once for one screen as text)",
              file=sys.stderr)
        return 1
    with connect() as client:
        try:
            userid = parse_user(args.user) if args.user is not None else default_userid(client)
        except ValueError as exc:
            print(f"corral top: {exc}", file=sys.stderr)
            return 1
        watch = Watch(client, userid, args.queue)
        view = top_screen.View()
        if args.once:
            watch.refresh()
            if sys.stdout.isatty():
                width, height = shutil.get_terminal_size()
            else:  # a text dump: whole lines, every node, every job fetched
                width = 10_000
                height = 3 * len(watch.nodes) + len(watch.pending) + len(watch.running) + 12
            lines, _ = top_screen.render(watch, view, width, height, client.uri)
            print("\n".join(line.rstrip() for line in lines[:-1]).rstrip())
            return 0
        from .top_terminal import run

        return run(client, watch, view, args.delay)
