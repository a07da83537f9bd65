"""The resource profile of one scheduling pass: what is free now and at every later moment.

It starts from what the pool has free now and from the running jobs' expected ends (their
time limits); reservations made during the pass take their resources from their start to
their end.  A job may start now only on resources that stay free, by this profile, for its
whole expected run, so it can never delay a reservation made before it; a reservation is put
at the earliest moment the profile has room for its job's whole run.

Resources are counts per node (see `placement`); the timeline is a sorted list of moments,
each with the changes of free counts it brings.  A job without any expected end (no time
limit, no default duration) holds its resources forever, by this profile.
"""

import bisect
import math

from .placement import Capacity, place


class Profile:
    def __init__(self, now: float, capacity: Capacity, running_ends):
        """``running_ends`` yields ``(end, {rank: (cores, gpus)})`` for each running job
        whose end is expected (an end in the past counts as now)."""
        self.now = now
        self.current = capacity
        self.total_cores = sum(capacity.cores[rank] for rank in capacity.ranks)
        #: Earliest start of a reservation: before it, free resources only grow.
        self.first_reservation = math.inf
        self._windows: dict[int, Capacity] = {}
        self.failures: set = set()
        # Built once, then sorted once: a pass builds a profile of every running job.
        changes: dict[float, dict] = {}
        for end, counts in running_ends:
            if end < math.inf:
                moment = max(end, now)
                change = changes.get(moment)
                if change is None:
                    changes[moment] = dict(counts)
                    continue
                for rank, (cores, gpus) in counts.items():
                    old = change.get(rank)
                    change[rank] = (cores, gpus) if old is None else (old[0] + cores,
                                                                      old[1] + gpus)
        self.changes = changes
        self.times: list[float] = sorted(changes)

    # --- building -----------------------------------------------------------------------

    def _add_change(self, moment: float, counts: dict, sign: int):
        change = self.changes.get(moment)
        if change is None:
            change = self.changes[moment] = {}
            bisect.insort(self.times, moment)
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
        backfill pass drops the long jobs bigger than this without trying them."""
        if self.first_reservation == math.inf:
            return self.total_cores
        key = bisect.bisect_right(self.times, self.first_reservation)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = self._window(self.current, 0, key)
        cores = window.cores
        return sum(cores[rank] for rank in window.ranks)

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
            for rank, (delta_cores, delta_gpus) in changes[moment].items():
                if nnodes:
                    was = enough(rank)
                cores[rank] += delta_cores
                gpus[rank] += delta_gpus
                total += delta_cores
                if nnodes:
                    nodes_enough += enough(rank) - was
            if total < needed or (nnodes and nodes_enough < nnodes):
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
