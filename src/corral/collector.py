"""Garbage collection for a controller that keeps hundreds of thousands of live objects.

CPython's cyclic collector re-examines every tracked object at each full collection, and full
collections come more often as the heap grows, so a controller holding 100,000 jobs spent
more time collecting than scheduling (the lifecycle rate fell by half between 10,000 and
100,000 jobs).  The job manager's data holds almost no reference cycles, so objects that have
survived a young collection are frozen (moved out of the collector's sight) once a second,
after that young collection had its chance to free cyclic garbage.  Automatic full
collections are switched off (they would only re-scan what was frozen a moment ago); a full
collection runs when the instance is idle, at most once a minute.
"""

import gc

FREEZE_INTERVAL = 1.0
FULL_COLLECTION_INTERVAL = 60.0
#: Generation-2 threshold high enough that the collector never starts a full collection.
_NO_AUTOMATIC_FULL_COLLECTION = 1_000_000_000


class Collector:
    def __init__(self, loop, is_idle):
        self.loop = loop
        self.is_idle = is_idle
        self._last_full = loop.time()
        self._timer = None
        self._saved_threshold = None

    def start(self):
        self._saved_threshold = gc.get_threshold()
        young, middle, _old = self._saved_threshold
        gc.set_threshold(young, middle, _NO_AUTOMATIC_FULL_COLLECTION)
        gc.collect()
        gc.freeze()
        self._timer = self.loop.call_later(FREEZE_INTERVAL, self._tick)

    def stop(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        gc.set_threshold(*self._saved_threshold)
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
