"""``corral top``: a live full-screen view of the instance, as ``flux top`` gives.

Built on the standard library's curses rather than a framework such as Textual: no
dependency to install, a start-up in tens of milliseconds instead of hundreds, and a screen
that is plain text lines (`top_screen`), which ``--once`` prints and tests read in a real
terminal.  `top_watch` fetches; `top_screen` lays out; this module only reads keys and paints.

Keys: ``q`` quits (Ctrl-C too), up/down (or ``k``/``j``) select a job, Enter opens it
(eventlog and the tail of its output) and Esc or ``q`` goes back, ``s`` steps through the sort
keys and ``r`` reverses, ``u`` and ``f`` ask for a user and a queue to show (empty: all).
"""

import curses
import errno
import os
import pwd
import shutil
import sys
import time

from ..client import RPCError, connect
from . import top_screen
from .top_watch import Watch, default_userid


def register(subparsers):
    parser = subparsers.add_parser("top", help="live view of nodes, queue and running jobs")
    parser.add_argument("-d", "--delay", type=float, default=2.0, metavar="SECONDS",
                        help="seconds between refreshes (default 2)")
    parser.add_argument("-u", "--user", help="only this user's jobs (name or uid)")
    parser.add_argument("-q", "--queue", help="only this queue's jobs")
    parser.add_argument("--once", action="store_true",
                        help="print one screen as text and exit (works without a terminal)")
    parser.set_defaults(func=main)


def parse_user(text: str) -> int:
    """A uid from a name or number; -1 for '' or 'all'.  ValueError names what is wrong."""
    if text in ("", "all"):
        return -1
    if text.isdigit():
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
        view = top_screen.View(userid, args.queue)
        if args.once:
            watch.refresh()
            size = shutil.get_terminal_size((120, 50))
            lines, _ = top_screen.render(watch, view, size.columns, size.lines, client.uri)
            print("\n".join(line.rstrip() for line in lines[:-1]).rstrip())
            return 0
        # Esc goes back at once, not after curses' default second of waiting for more keys.
        os.environ.setdefault("ESCDELAY", "25")
        return curses.wrapper(_Screen(client, watch, view, args.delay).run)


class _Screen:
    def __init__(self, client, watch, view, delay):
        self.client = client
        self.watch = watch
        self.view = view
        self.delay = delay

    def run(self, window) -> int:
        curses.curs_set(0)
        window.keypad(True)
        window.timeout(100)
        next_refresh = 0.0
        while True:
            now = time.monotonic()
            if now >= next_refresh:
                self._refresh()
                next_refresh = now + self.delay
            self._paint(window)
            key = window.getch()
            if key == -1:
                continue
            if not self._key(window, key):
                return 0
            if key in (ord("u"), ord("f"), ord("\n"), curses.KEY_ENTER, 27):
                next_refresh = 0.0  # a new filter or view: fetch now

    def _refresh(self):
        watch, view = self.watch, self.view
        try:
            watch.refresh()
        except RPCError as exc:
            if exc.errno != errno.EPERM:
                raise
            view.message = f"{exc.strerror}: showing your own jobs"
            view.userid = watch.userid = os.getuid()
            watch.refresh()
        if view.detail is not None:
            view.detail = watch.job_detail(view.detail[0]["id"])

    def _paint(self, window):
        height, width = window.getmaxyx()
        lines, selected = top_screen.render(self.watch, self.view, width, height,
                                            self.client.uri)
        window.erase()
        for row, line in enumerate(lines[:height]):
            attribute = curses.A_REVERSE if row == selected else curses.A_NORMAL
            if row == 0:
                attribute |= curses.A_BOLD
            try:
                window.addstr(row, 0, line, attribute)
            except curses.error:  # the last cell of the screen cannot be written
                pass
        window.refresh()

    def _key(self, window, key) -> bool:
        """Act on ``key``; False to quit."""
        view = self.view
        view.message = ""
        if view.detail is not None:
            if key in (27, ord("q"), curses.KEY_LEFT, curses.KEY_BACKSPACE):
                view.detail = None
            return True
        if key == ord("q"):
            return False
        jobs = top_screen.jobs_in_order(self.watch, view, time.time())
        if key in (curses.KEY_DOWN, ord("j")):
            view.selected = min(view.selected + 1, max(len(jobs) - 1, 0))
        elif key in (curses.KEY_UP, ord("k")):
            view.selected = max(view.selected - 1, 0)
        elif key in (ord("\n"), curses.KEY_ENTER) and jobs:
            view.detail = self.watch.job_detail(jobs[view.selected]["id"])
        elif key == ord("s"):
            keys = top_screen.SORT_KEYS
            view.sort = keys[(keys.index(view.sort) + 1) % len(keys)]
        elif key == ord("r"):
            view.reverse = not view.reverse
        elif key == ord("u"):
            self._ask_user(window)
        elif key == ord("f"):
            answer = self._ask(window, "queue (empty for all): ")
            view.queue = self.watch.queue = answer or None
            view.selected = 0
        return True

    def _ask_user(self, window):
        view = self.view
        try:
            userid = parse_user(self._ask(window, "user (empty for all): "))
        except ValueError as exc:
            view.message = str(exc)
            return
        view.userid = self.watch.userid = userid
        view.selected = 0

    @staticmethod
    def _ask(window, prompt: str) -> str:
        height, width = window.getmaxyx()
        window.move(height - 1, 0)
        window.clrtoeol()
        window.addstr(height - 1, 0, prompt[:width - 1])
        curses.echo()
        curses.curs_set(1)
        window.timeout(-1)
        try:
            answer = window.getstr(height - 1, min(len(prompt), width - 2), 64)
        finally:
            curses.noecho()
            curses.curs_set(0)
            window.timeout(100)
        return answer.decode(errors="replace").strip()
