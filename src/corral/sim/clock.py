"""A virtual clock: an asyncio event loop whose time jumps instead of passing.

When nothing is ready to run, the loop does not sleep: it moves its time to the next timer
(or to the next moment the simulator asked to be woken at, `wake_at`) and goes on.  What the
code hands to an executor (the store's commits) runs at once on the loop's thread, so a
commit takes no simulated time and the loop never waits for a thread.

The code under simulation reads wall-clock time with ``time.time()`` (event timestamps,
R start and expiration, timers computed from expirations); `patched_time` makes it read the
virtual clock for the duration of a run, so every timestamp is simulated time.

Work done outside the loop, by a thread that reports through ``call_soon_threadsafe`` (a
PrEp controller script the plugin test kit runs for real), takes no virtual time either:
while `VirtualClockLoop.outside_work` says something is owed, the loop waits for it in real
time instead of jumping, so its report lands at the virtual moment the work began.
"""

import asyncio
import contextlib
import heapq
import itertools
import selectors
import time
from asyncio import base_events


class SimulationStalled(RuntimeError):
    """Nothing is ready, no timer is set and nothing is awaited: the run cannot go on."""


class _VirtualSelector(selectors.DefaultSelector):
    """Nothing in a simulation waits on a file descriptor, so there is nothing to poll: where
    the loop would wait, its time jumps instead."""

    def __init__(self):
        super().__init__()
        self.loop = None

    def select(self, timeout=None):
        if timeout == 0:
            return []
        outside = self.loop.outside_work
        patience = outside() if outside is not None else None
        if patience is not None:
            return super().select(patience)  # a report wakes it through the self-pipe
        self.loop.advance()
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
        self._wakeups: list = []
        self._serial = itertools.count()
        #: None, or a callable answering how many real seconds to wait for work outside
        #: the loop before looking again, or None when nothing outside owes the loop a report.
        self.outside_work = None

    def time(self) -> float:
        return self.now

    def call_soon(self, callback, *args, context=None):
        """asyncio's `call_soon` less its debug checks when the loop is not in debug mode:
        a replay makes a dozen handles a job."""
        if self._debug:
            return super().call_soon(callback, *args, context=context)
        if self._closed:
            raise RuntimeError("Event loop is closed")
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def _run_once(self):
        """asyncio's iterations, one after another while callbacks are ready: such an
        iteration would not wait (its select is given no time, and nothing in a simulation
        polls), so it is the base's without the select, in the same order (the timers due
        join the ready callbacks at the start of each iteration, as there); the base's
        runs whenever the loop would wait, is stopping or is in debug mode."""
        ready = self._ready
        if not ready or self._stopping or self._debug:
            super()._run_once()
            return
        popleft = ready.popleft
        while True:
            self._drop_cancelled_timers()
            scheduled = self._scheduled
            if scheduled:
                end_time = self.now + self._clock_resolution
                while scheduled and scheduled[0]._when < end_time:
                    handle = heapq.heappop(scheduled)
                    handle._scheduled = False
                    ready.append(handle)
            for _ in range(len(ready)):
                handle = popleft()
                if not handle._cancelled:
                    handle._run()
            handle = None  # breaks a cycle when a callback raised, as the base does
            if not ready or self._stopping:
                return

    def _drop_cancelled_timers(self):
        """What the base's iteration does first: drop cancelled timers, all of them when
        they are too many, else those at the head of the heap."""
        scheduled = self._scheduled
        count = len(scheduled)
        if count > base_events._MIN_SCHEDULED_TIMER_HANDLES and \
                self._timer_cancelled_count / count > \
                base_events._MIN_CANCELLED_TIMER_HANDLES_FRACTION:
            kept = []
            for handle in scheduled:
                if handle._cancelled:
                    handle._scheduled = False
                else:
                    kept.append(handle)
            heapq.heapify(kept)
            self._scheduled = kept
            self._timer_cancelled_count = 0
        else:
            while scheduled and scheduled[0]._cancelled:
                self._timer_cancelled_count -= 1
                handle = heapq.heappop(scheduled)
                handle._scheduled = False

    def run_in_executor(self, executor, func, *args):
        """Run ``func`` at once, on this thread: a store commit takes no time, virtual or
        real, and there is no thread to wait for."""
        future = self.create_future()
        try:
            future.set_result(func(*args))
        except BaseException as exc:  # handed to the caller, as an executor would
            future.set_exception(exc)
        return future

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
