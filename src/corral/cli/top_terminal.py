"""The live screen of ``corral top``: curses, keys, and a refresh every ``delay`` seconds.

Between refreshes it waits for keys, so a key acts at once on what was last fetched (a job
opened with Enter is fetched then); a new filter, or going back to the list, makes the next
refresh happen now.  The screen is painted after each refresh and each key, not in
between.  Ctrl-C leaves as ``q`` does, through curses' own restoring of the terminal (exit
status 130, as for every corral command).
"""

import curses
import errno
import os
import time

from ..client import RPCError
from . import top_screen
from .top import parse_user

_ESCAPE = 27


def run(client, watch, view, delay) -> int:
    # Esc goes back at once, not after curses' default second of waiting for more keys.
    os.environ.setdefault("ESCDELAY", "25")
    return curses.wrapper(_Screen(client, watch, view, delay).run)


class _Screen:
    def __init__(self, client, watch, view, delay):
        self.client = client
        self.watch = watch
        self.view = view
        self.delay = delay

    def run(self, window) -> int:
        curses.curs_set(0)
        window.keypad(True)
        next_refresh = 0.0
        while True:
            now = time.monotonic()
            if now >= next_refresh:
                self._refresh()
                next_refresh = now + self.delay
            self._paint(window)
            # Wait for a key until the next refresh is due; paint only when something changed.
            window.timeout(max(int((next_refresh - time.monotonic()) * 1000), 1))
            key = window.getch()
            if key == -1:
                continue
            if not self._key(window, key):
                return 0
            if key in (ord("u"), ord("f"), _ESCAPE):
                next_refresh = 0.0  # a new filter or back to the list: fetch now

    def _refresh(self):
        watch, view = self.watch, self.view
        try:
            watch.refresh()
        except RPCError as exc:
            if exc.errno != errno.EPERM:
                raise
            view.message = f"{exc.strerror}: showing your own jobs"
            watch.show(os.getuid(), watch.queue)
            watch.refresh()
        if view.detail is not None:
            self._open(view.detail[0]["id"])

    def _open(self, job_id: int):
        """Show one job; back to the list with a word if it is gone (purged)."""
        view = self.view
        try:
            view.detail = self.watch.job_detail(job_id)
        except RPCError as exc:
            view.detail = None
            view.message = f"job {job_id}: {exc.strerror or exc}"

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
            if key in (_ESCAPE, ord("q"), curses.KEY_LEFT, curses.KEY_BACKSPACE):
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
            self._open(jobs[view.selected]["id"])
        elif key == ord("s"):
            keys = top_screen.SORT_KEYS
            view.sort = keys[(keys.index(view.sort) + 1) % len(keys)]
        elif key == ord("r"):
            view.reverse = not view.reverse
        elif key == ord("u"):
            self._ask_user(window)
        elif key == ord("f"):
            answer = self._ask(window, "queue (empty for all): ")
            self.watch.show(self.watch.userid, answer or None)
            view.selected = 0
        return True

    def _ask_user(self, window):
        view = self.view
        try:
            userid = parse_user(self._ask(window, "user (empty for all): "))
        except ValueError as exc:
            view.message = str(exc)
            return
        self.watch.show(userid, self.watch.queue)
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
        return answer.decode(errors="replace").strip()
