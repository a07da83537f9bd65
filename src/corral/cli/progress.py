"""A progress bar on the terminal while a command works through many jobs.

``corral submit --cc``, ``corral cancel --all``, ``corral queue drain``, ``corral job purge``
and ``sbatch --array`` draw one line on stderr, redrawn in place, as ``flux submit
--progress`` does.  Unlike Flux it needs no option: it is drawn only when both stdout and
stderr are terminals, so scripts, pipes and logs never see it (docs/compatibility.md).

This module only draws; the commands say how far they are.  Redraws are limited to ten a
second, so updating per job costs nothing worth measuring.
"""

import shutil
import sys
import time

_REDRAW_INTERVAL = 0.1


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced by something without a fd
        return False


class Progress:
    """``label [=====>    ] done/total  pct%  rate/s``, or nothing off a terminal.

    Use as a context manager: leaving it draws the final state and ends the line (after an
    error too, so the error message starts on a line of its own).  ``enabled=False`` keeps
    it hidden, for a command whose work is short this time (one job, not ``--cc``).
    """

    def __init__(self, label: str, total: int, unit: str = "jobs", stream=None,
                 enabled: bool = True):
        self.label = label
        self.total = max(total, 0)
        self.unit = unit
        self.done = 0
        self.stream = stream or sys.stderr
        # Seen only if both stdout and the bar's stream are terminals.
        self.shown = enabled and _isatty(sys.stdout) and _isatty(self.stream)
        self._started = time.monotonic()
        self._drawn_at = 0.0

    def __enter__(self):
        if self.total:  # a total still unknown (0) would draw as done
            self._draw()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def update(self, done: int, total: int | None = None):
        """``done`` of ``total`` (unchanged if None) units are finished."""
        if total is not None:
            self.total = max(total, 0)
        self.done = done
        if self.shown and time.monotonic() - self._drawn_at >= _REDRAW_INTERVAL:
            self._draw()

    def close(self):
        if self.shown:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False

    def render(self, width: int) -> str:
        """The line for a terminal ``width`` columns wide."""
        total = max(self.total, self.done)
        elapsed = time.monotonic() - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        percent = 100 * self.done // total if total else 100
        counts = f" {self.done}/{total} {self.unit} {percent:3d}% {rate:7.1f}/s"
        room = width - len(self.label) - len(counts) - 3
        if room < 10:
            return (self.label + counts)[:width - 1]
        filled = room * self.done // total if total else room
        bar = "=" * filled + (">" if filled < room else "")
        return f"{self.label} [{bar:<{room}}]{counts}"

    def _draw(self):
        if not self.shown:
            return
        width = shutil.get_terminal_size((80, 24)).columns
        self.stream.write("\r" + self.render(width) + "\x1b[K")
        self.stream.flush()
        self._drawn_at = time.monotonic()
