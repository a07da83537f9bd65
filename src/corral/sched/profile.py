"""The resource profile of one scheduling pass: what is free now and at every later moment.

It starts from what the pool has free now and from the running jobs' expected ends (their
time limits, kept from pass to pass in `RunningEnds` as jobs start and end); reservations
made during the pass take their resources from their start to their end.  A job may start
now only on resources that stay free, by this profile, for its whole expected run, so it can
never delay a reservation made before it; a reservation is put at the earliest moment the
profile has room for its job's whole run.

Resources are counts per node (see `placement`); the timeline is a sorted list of moments,
each with the changes of free counts it brings.  A job without any expected end (no time
limit, no default duration) holds its resources forever, by this profile.
"""

import bisect
import math

from .placement import Capacity, place


def _added(change: dict, counts: dict, sign: int) -> dict:
    """``change`` (``{rank: (cores, gpus)}``, left as it is) with ``counts`` added, times
    ``sign``."""
    change = dict(change)
    for rank, (cores, gpus) in counts.items():
        old = change.get(rank)
        change[rank] = (sign * cores, sign * gpus) if old is None else (
            old[0] + sign * cores, old[1] + sign * gpus)
    return change


class RunningEnds:
    """The running jobs' expected ends: each moment a job is expected to end at, with the
    resources that come free then, summed over the jobs that end then, in order.  A pass's
    `Profile` starts from a copy; a moment's changes are replaced, never changed in place,
    so a profile's copy stays as it was while the jobs its pass starts are added."""

    def __init__(self):
        #: End -> ``{rank: (cores, gpus)}`` freed then; and the ends, in order.
        self.changes: dict[float, dict] = {}
        self.times: list[float] = []
        #: End -> how many running jobs end then: a moment is kept while one does, even
        #: one that has released every rank.
        self._jobs: dict[float, int] = {}

    def add(self, end: float, counts: dict):
        """A job expected to end at ``end`` (inf: never) holds ``counts``."""
        if end == math.inf:
            return
        jobs = self._jobs.get(end)
        if jobs is None:
            self._jobs[end] = 1
            self.changes[end] = dict(counts)
            bisect.insort(self.times, end)
        else:
            self._jobs[end] = jobs + 1
            self.changes[end] = _added(self.changes[end], counts, 1)

    def release(self, end: float, counts: dict):
        """A job expected to end at ``end`` gives back ``counts`` now."""
        if end != math.inf:
            self.changes[end] = _added(self.changes[end], counts, -1)

    def remove(self, end: float, counts: dict):
        """The job expected to end at ``end`` that holds ``counts`` has ended."""
        if end == math.inf:
            return
        jobs = self._jobs[end] - 1
        if jobs:
            self._jobs[end] = jobs
            self.changes[end] = _added(self.changes[end], counts, -1)
        else:
            del self._jobs[end], self.changes[end]
            del self.times[bisect.bisect_left(self.times, end)]


class Profile:
    def __init__(self, now: float, capacity: Capacity, running: RunningEnds | None):
        """``running``: the running jobs' expected ends (an end in the past counts as now);
        None: the profile has none."""
        self.now = now
        self.current = capacity
        self.total_cores = sum(capacity.cores[rank] for rank in capacity.ranks)
        #: Earliest start of a reservation: before it, free resources only grow.
        self.first_reservation = math.inf
        self._windows: dict[int, Capacity] = {}
        self.failures: set = set()
        #: The moments whose changes are this profile's own (the others are `running`'s,
        #: copied before they change).
        self._own: set = set()
        if running is None:
            self.changes: dict[float, dict] = {}
            self.times: list[float] = []
            return
        self.changes = changes = dict(running.changes)
        times = running.times
        past = bisect.bisect_right(times, now)
        if past:
            merged: dict = {}
            for moment in times[:past]:
                merged = _added(merged, changes.pop(moment), 1)
            changes[now] = merged
            self._own.add(now)
            self.times = [now, *times[past:]]
        else:
            self.times = list(times)

    # --- building -----------------------------------------------------------------------

    def _add_change(self, moment: float, counts: dict, sign: int):
        change = self.changes.get(moment)
        if change is None:
            change = self.changes[moment] = {}
            self._own.add(moment)
            bisect.insort(self.times, moment)
        elif moment not in self._own:
            change = self.changes[moment] = dict(change)
            self._own.add(moment)
        for rank, (cores, gpus) in counts.items():
            old = change.get(rank)
            if old is None:
                change[rank] = (sign * cores, sign * gpus)
            else:
                change[rank] = (old[0] + sign * cores, old[1] + sign * gpus)

    def _changed(self):
        self._windows.clear()
        self.failures.clear()

    def start_now(self, counts: dict, end: float):
        """A job starts now on ``counts`` and is expected to end at ``end``."""
        current = self.current
        for rank, (cores, gpus) in counts.items():
            current.cores[rank] -= cores
            current.gpus[rank] -= gpus
            self.total_cores -= cores
        current.set_ranks([rank for rank in current.ranks if current.cores[rank] > 0])
        if end < math.inf:
            self._add_change(end, counts, 1)
        self._changed()

    def reserve(self, start: float, end: float, counts: dict):
        """Hold ``counts`` from ``start`` (later than now) to ``end`` for a waiting job."""
        self._add_change(start, counts, -1)
        if end < math.inf:
            self._add_change(end, counts, 1)
        self.first_reservation = min(self.first_reservation, start)
        self._changed()

    # --- questions ----------------------------------------------------------------------

    def place_now(self, request, duration: float, mask: int | None = None) -> dict | None:
        """Counts for ``request`` to start now and run ``duration`` without delaying any
        reservation (on the ranks of ``mask``, when given), or None."""
        if request.nslots * request.cores_per_slot > self.total_cores:
            return None
        end = self.now + duration
        if end <= self.first_reservation:
            window = self.current
            key = -1
        else:
            key = bisect.bisect_left(self.times, end)
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = self._window(self.current, 0, key)
        failure = (request.nnodes, request.nslots, request.cores_per_slot,
                   request.gpus_per_slot, request.exclusive, key, mask)
        if failure in self.failures:
            return None
        counts = place(request, window, mask)
        if counts is None:
            self.failures.add(failure)
        return counts

    def cores_past_first_reservation(self) -> int:
        """The most cores a job that runs past the first reservation's start may have: what
        each node keeps free from now through that start, summed.  A job that ends later
        has no more, since each node's least free count only falls over a longer span; a
        backfill pass drops the long jobs bigger than this without trying them.

        Before that start only ends change the profile, and they free resources: a node's
        least free count through it is what it has now or, if less, what it has once
        every change through the start has applied (never below none), so the changes
        are summed, not walked for their least."""
        if self.first_reservation == math.inf:
            return self.total_cores
        changes = self.changes
        summed: dict[int, int] = {}
        for moment in self.times[:bisect.bisect_right(self.times, self.first_reservation)]:
            for rank, (cores, _gpus) in changes[moment].items():
                summed[rank] = summed.get(rank, 0) + cores
        return self.total_cores + sum(cores for cores in summed.values() if cores < 0)

    def earliest(self, request, duration: float,
                 mask: int | None = None) -> tuple[float, dict] | None:
        """The earliest moment after now when ``request`` can run ``duration`` on
        resources free all along, with its counts; None if the profile never has room.

        A placement is tried only at moments when enough cores are free in all, and, for
        a request by nodes, enough nodes have their share free (counted as changes apply),
        so the walk costs about one step per change.  With a ``mask``, the counts are of
        the whole machine still (a necessary condition) and the placement is the mask's."""
        current = self.current
        node_cores = current.node_cores
        cores, gpus = list(current.cores), list(current.gpus)
        total = self.total_cores
        needed = request.nslots * request.cores_per_slot
        nnodes = request.nnodes
        if nnodes:
            share = request.nslots // nnodes * request.cores_per_slot

            def enough(rank):
                if request.exclusive:
                    return cores[rank] == node_cores[rank]
                return cores[rank] >= share

            nodes_enough = sum(1 for rank in range(len(cores)) if enough(rank))
        times = self.times
        changes = self.changes
        for index, moment in enumerate(times):
            if nnodes:
                for rank, (delta_cores, delta_gpus) in changes[moment].items():
                    was = enough(rank)
                    cores[rank] += delta_cores
                    gpus[rank] += delta_gpus
                    total += delta_cores
                    nodes_enough += enough(rank) - was
                if total < needed or nodes_enough < nnodes:
                    continue
            else:
                for rank, (delta_cores, delta_gpus) in changes[moment].items():
                    cores[rank] += delta_cores
                    gpus[rank] += delta_gpus
                    total += delta_cores
                if total < needed:
                    continue
            state = Capacity(cores, gpus, node_cores, current.node_gpus,
                             [rank for rank in range(len(cores)) if cores[rank] > 0])
            if index + 1 < len(times) and times[index + 1] < moment + duration:
                window = self._window(state, index + 1,
                                      bisect.bisect_left(times, moment + duration))
            else:
                window = state
            counts = place(request, window, mask)
            if counts is not None:
                return moment, counts
        return None

    def _window(self, start: Capacity, first: int, stop: int) -> Capacity:
        """What stays free from ``start`` through the changes ``times[first:stop]``: the
        least free count of each node over that span."""
        cores, gpus = start.cores, start.gpus
        running_cores: dict[int, int] = {}
        running_gpus: dict[int, int] = {}
        least_cores: dict[int, int] = {}
        least_gpus: dict[int, int] = {}
        for moment in self.times[first:stop]:
            for rank, (delta_cores, delta_gpus) in self.changes[moment].items():
                value = running_cores.get(rank, cores[rank]) + delta_cores
                running_cores[rank] = value
                if value < least_cores.get(rank, cores[rank]):
                    least_cores[rank] = value
                value = running_gpus.get(rank, gpus[rank]) + delta_gpus
                running_gpus[rank] = value
                if value < least_gpus.get(rank, gpus[rank]):
                    least_gpus[rank] = value
        if not least_cores and not least_gpus:
            return start
        window_cores = list(cores)
        window_gpus = list(gpus)
        for rank, value in least_cores.items():
            window_cores[rank] = value
        for rank, value in least_gpus.items():
            window_gpus[rank] = value
        ranks = [rank for rank in start.ranks if window_cores[rank] > 0]
        return Capacity(window_cores, window_gpus, start.node_cores, start.node_gpus, ranks)
