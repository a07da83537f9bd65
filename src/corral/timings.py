"""Durations counted into fixed buckets with plain numbers: the controller's own histograms.

The scheduler's passes and the store's commits are timed always, since a bucket increment
costs less than the clock readings around it; the metrics endpoint (`corral.metrics`) turns
them into Prometheus histograms when it is asked.  This module must not import a metrics
library: the controller runs without one.

One writer per `Timings` (the event loop, or the store's writer thread); a scrape only copies
the numbers, so it may see one observation half counted, never a broken one.
"""

from bisect import bisect_left

#: Bucket upper bounds in seconds (the last bucket, +Inf, is implicit): 100 µs to 10 s.
SECONDS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Timings:
    """A histogram of durations: per-bucket counts and their sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...] = SECONDS_BUCKETS):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, seconds: float):
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.total += seconds

    def snapshot(self) -> tuple[list[tuple[float, int]], float]:
        """``([(upper bound, cumulative count)], sum)``, +Inf last as ``inf``."""
        counts, total = list(self.counts), self.total
        cumulative, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), counts, strict=True):
            running += count
            cumulative.append((bound, running))
        return cumulative, total


class CallTimes:
    """Time, calls and failures per key (a PrEp plugin and a hook): a Prometheus summary's
    ``_sum`` and ``_count`` without its per-observation cost."""

    __slots__ = ("by_key",)

    def __init__(self):
        self.by_key: dict[tuple, list] = {}

    def add(self, key: tuple, seconds: float, failed: bool = False):
        record = self.by_key.get(key)
        if record is None:
            record = self.by_key[key] = [0, 0.0, 0]
        record[0] += 1
        record[1] += seconds
        if failed:
            record[2] += 1

    def snapshot(self) -> list[tuple[tuple, int, float, int]]:
        """``[(key, calls, seconds, failures)]``."""
        return [(key, *record) for key, record in list(self.by_key.items())]
