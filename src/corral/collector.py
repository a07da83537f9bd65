"""Garbage collection for a controller that keeps hundreds of thousands of live objects.

CPython's cyclic collector re-examines every tracked object at each full collection, and full
collections come more often as the heap grows, so a controller holding 100,000 jobs spent
more time collecting than scheduling (the lifecycle rate fell by half between 10,000 and
100,000 jobs).  The job manager's data holds almost no reference cycles, so objects that have
survived a young collection are frozen (moved out of the collector's sight) once a second,
after that young collection had its chance to free cyclic garbage; a full collection runs
only when the instance is idle, at most once a minute.
"""

import gc

FREEZE_INTERVAL = 1.0
FULL_COLLECTION_INTERVAL = 60.0


class Collector:
    def __init__(self, loop, is_idle):
        self.loop = loop
        self.is_idle = is_idle
        self._last_full = loop.time()
        self._timer = None

    def start(self):
        gc.collect()
        gc.freeze()
        self._timer = self.loop.call_later(FREEZE_INTERVAL, self._tick)

    def stop(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        gc.unfreeze()

    def _tick(self):
        now = self.loop.time()
        if self.is_idle() and now - self._last_full >= FULL_COLLECTION_INTERVAL:
            gc.unfreeze()
            gc.collect()
            self._last_full = now
        else:
            gc.collect(1)
        gc.freeze()
        self._timer = self.loop.call_later(FREEZE_INTERVAL, self._tick)
