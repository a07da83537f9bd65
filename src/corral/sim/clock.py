"""A virtual clock: an asyncio event loop whose time jumps instead of passing.

When nothing is ready to run and no store commit is under way, the loop does not sleep: it
moves its time to the next timer (or to the next moment the simulator asked to be woken at,
`wake_at`) and goes on.  While a commit runs in the store's thread, the loop waits for it for
real, and virtual time stands still, so a commit takes no simulated time.

The code under simulation reads wall-clock time with ``time.time()`` (event timestamps,
R start and expiration, timers computed from expirations); `patched_time` makes it read the
virtual clock for the duration of a run, so every timestamp is simulated time.
"""

import asyncio
import contextlib
import heapq
import itertools
import selectors
import time


class SimulationStalled(RuntimeError):
    """Nothing is ready, no timer is set and nothing is awaited: the run cannot go on."""


class _VirtualSelector(selectors.DefaultSelector):
    """The real selector (the loop's own wake-up pipe, the store's answers), with
    the waiting replaced by a jump of the loop's time."""

    def __init__(self):
        super().__init__()
        self.loop = None

    def select(self, timeout=None):
        events = super().select(0)
        if events or timeout == 0:
            return events
        loop = self.loop
        if loop.commits_in_flight:
            return super().select(None)
        loop.advance()
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self, start: float):
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self.now = start
        # A timer fires once the time is within this of it; asyncio's default (the monotonic
        # clock's nanosecond) is below the float resolution of epoch timestamps.
        self._clock_resolution = 1e-6
        self.commits_in_flight = 0
        self._wakeups: list = []
        self._serial = itertools.count()

    def time(self) -> float:
        return self.now

    def run_in_executor(self, executor, func, *args):
        future = super().run_in_executor(executor, func, *args)
        self.commits_in_flight += 1
        future.add_done_callback(self._commit_done)
        return future

    def _commit_done(self, _future):
        self.commits_in_flight -= 1

    def wake_at(self, moment: float) -> asyncio.Future:
        """A future resolved at ``moment`` once everything due at or before it has run:
        timers set for the same moment run first."""
        future = self.create_future()
        heapq.heappush(self._wakeups, (moment, next(self._serial), future))
        return future

    def advance(self):
        """Nothing is ready: jump to the next timer or wake-up, whichever is first."""
        scheduled = self._scheduled
        timer = scheduled[0].when() if scheduled else None
        if self._wakeups and (timer is None or self._wakeups[0][0] < timer):
            moment, _serial, future = heapq.heappop(self._wakeups)
            self.now = max(self.now, moment)
            if not future.done():
                future.set_result(None)
            return
        if timer is None:
            raise SimulationStalled("nothing is left to run and no timer is set")
        self.now = max(self.now, timer)


@contextlib.contextmanager
def patched_time(loop: VirtualClockLoop):
    """``time.time()`` reads ``loop``'s virtual clock inside the block."""
    real = time.time
    time.time = loop.time
    try:
        yield
    finally:
        time.time = real
