"""Pending allocation requests (`AllocRequest`), ordered by priority (highest first), then job
id.

A sorted list with lazy deletion.  A scheduling pass reads only the first ``queue-depth``
jobs, and it runs after nearly every event, so reading them must cost about that many steps
at C speed, however long the queue is: `first` slices them off the front of the list, with
each job's size (the cores it asks for), which a backfill pass filters them by.  Three
lists stay aligned: the sort keys (`_sort_key`: ``(-priority, id, serial)`` packed in one
int, since a pass bisects and sorts them by the thousand and ints compare at a fraction of a
tuple's cost; the serial is unique, so a reordered job's old key and new one never tie), the
sizes, and the jobs, where a removed
job's place holds None until the lists are rebuilt.  A new request usually sorts last (the
same priority as the jobs before it, a higher id) and is appended; a removed one is found
by bisection.  Dead places are dropped in bulk: at the front as the front moves on, within
the front when a read crosses enough of them, everywhere when they outnumber the live
ones.  Re-sorting everything at once (reprioritize-all) is one sort of an almost sorted
list.

A backfill pass after a job's end has a few cores free and a window of hundreds of jobs,
most of them bigger: the queue also keeps each size's sort keys in order, with the jobs'
durations beside them (`fitting`), so that such a pass finds the few jobs of its window that
fit, in cores and, past the first reservation, in time, without reading the others.
"""

import bisect
import itertools
import math
import operator

#: Dead places a read of the front may cross before it drops them from the lists.
_DEAD_CROSSED = 32
#: Live places `last_of` steps back over, at most, from where it last found a window's end.
_END_STEPS_BACK = 64
#: Dead places kept at most, beyond as many as there are live ones.
_DEAD_KEPT = 1024
#: The bits of a sort key's serial, and of its job id once shifted down.
_LOW_BITS = (1 << 64) - 1


def _sort_key(priority: int, job_id: int, serial: int) -> int:
    """``(-priority, job_id, serial)`` as one int of the same order: job ids and serials
    are below 2**64."""
    return (-priority << 128) + (job_id << 64) + serial


class PendingQueue:
    def __init__(self, size, duration=None):
        """``size(job)``: the cores the job asks for; ``duration(job)``: how long it is
        expected to run (None: no bound, see `fitting`); each read once, when it is
        queued."""
        self._size = size
        self._duration = duration
        self._keys: list[int] = []
        self._sizes: list[int] = []
        self._jobs: list = []
        #: Every place before this index is dead.
        self._head = 0
        #: ``(place, live)``: where `last_of` last found a window's end, and how many live
        #: places there are from the head through it; None when places have moved since.
        self._end = None
        #: Job id -> (job, its sort key, its size, its duration).
        self._entries: dict[int, tuple] = {}
        #: Size -> the sort keys of the queued jobs of that size, in order, and their
        #: durations, aligned; and the sizes queued, in order.
        self._keys_by_size: dict[int, list[int]] = {}
        self._durations_by_size: dict[int, list] = {}
        self._sizes_queued: list[int] = []
        self._serial = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def push(self, job) -> int:
        """Queue ``job``; its sort key."""
        key = _sort_key(job.priority, job.id, next(self._serial))
        size = self._size(job)
        duration = None if self._duration is None else self._duration(job)
        self._entries[job.id] = (job, key, size, duration)
        keys = self._keys
        if len(keys) == self._head or keys[-1] < key:
            keys.append(key)
            self._sizes.append(size)
            self._jobs.append(job)
        else:
            place = bisect.bisect_left(keys, key, self._head)
            keys.insert(place, key)
            self._sizes.insert(place, size)
            self._jobs.insert(place, job)
            end = self._end
            if end is not None and place <= end[0]:
                self._end = (end[0] + 1, end[1] + 1)
        self._index_size(key, size, duration)
        return key

    def _index_size(self, key: int, size: int, duration):
        same_size = self._keys_by_size.get(size)
        if same_size is None:
            self._keys_by_size[size] = [key]
            self._durations_by_size[size] = [duration]
            bisect.insort(self._sizes_queued, size)
        elif same_size[-1] < key:
            same_size.append(key)
            self._durations_by_size[size].append(duration)
        else:
            place = bisect.bisect_left(same_size, key)
            same_size.insert(place, key)
            self._durations_by_size[size].insert(place, duration)

    def key(self, job_id: int) -> int:
        """The sort key of queued job ``job_id``: a job sorts after those whose keys are
        smaller."""
        return self._entries[job_id][1]

    def remove(self, job_id: int) -> bool:
        entry = self._entries.pop(job_id, None)
        if entry is None:
            return False
        _job, key, size, _duration = entry
        place = bisect.bisect_left(self._keys, key, self._head)
        self._jobs[place] = None
        end = self._end
        if end is not None and place <= end[0]:
            self._end = (end[0], end[1] - 1)
        same_size = self._keys_by_size[size]
        place = bisect.bisect_left(same_size, key)
        del same_size[place]
        del self._durations_by_size[size][place]
        if not same_size:
            del self._keys_by_size[size]
            del self._durations_by_size[size]
            del self._sizes_queued[bisect.bisect_left(self._sizes_queued, size)]
        dead = len(self._keys) - len(self._entries)
        if dead > _DEAD_KEPT and dead > len(self._entries):
            self._rebuild(sorted(self._entries.values(), key=operator.itemgetter(1)))
        return True

    def reorder(self, job_id: int, priority: int):
        """The request of ``job_id`` waits with ``priority`` from now on."""
        entry = self._entries.get(job_id)
        if entry is not None:
            job = entry[0]
            self.remove(job_id)
            job.priority = priority
            self.push(job)

    def set_priority(self, job_id: int, priority: int):
        """A new priority for the request of ``job_id``, in effect at the next `resort`."""
        entry = self._entries.get(job_id)
        if entry is not None:
            entry[0].priority = priority

    def resort(self):
        """Re-read every queued job's priority and rebuild the order in one pass."""
        entries = self._entries
        for job, key, size, duration in list(entries.values()):
            entries[job.id] = (job, _sort_key(job.priority, job.id, key & _LOW_BITS), size,
                               duration)
        ordered = sorted(entries.values(), key=operator.itemgetter(1))
        self._rebuild(ordered)
        self._keys_by_size = {}
        self._durations_by_size = {}
        for _job, key, size, duration in ordered:
            self._keys_by_size.setdefault(size, []).append(key)
            self._durations_by_size.setdefault(size, []).append(duration)
        self._sizes_queued = sorted(self._keys_by_size)

    def _rebuild(self, entries):
        self._keys = [entry[1] for entry in entries]
        self._sizes = [entry[2] for entry in entries]
        self._jobs = [entry[0] for entry in entries]
        self._head = 0
        self._end = None

    def first(self, depth: int | None = None) -> tuple[list, list]:
        """The first ``depth`` queued jobs (all by default), in allocation order, and their
        sizes."""
        jobs = self._jobs
        head = self._head
        end = len(jobs)
        while head < end and jobs[head] is None:
            head += 1
        self._head = head
        wanted = len(self._entries) if depth is None else min(depth, len(self._entries))
        stop = head + wanted
        # A request is always true, a removed one's place None: filter and compress keep
        # the live ones at C speed.
        while True:
            front = jobs[head:stop]
            live = list(filter(None, front))
            if len(live) == wanted:
                break
            stop += wanted - len(live)
        sizes = self._sizes[head:stop]
        if len(live) < len(front):
            sizes = list(itertools.compress(sizes, front))
            if len(front) - len(live) > _DEAD_CROSSED:
                self._compact(head, stop, live, sizes)
        return live, sizes

    def _compact(self, head: int, stop: int, live=None, sizes=None):
        """Drop the dead places between ``head`` and ``stop`` (``live``, ``sizes``: what
        is left there, when the caller has it)."""
        if live is None:
            front = self._jobs[head:stop]
            live = list(filter(None, front))
            sizes = list(itertools.compress(self._sizes[head:stop], front))
        self._jobs[head:stop] = live
        self._sizes[head:stop] = sizes
        self._keys[head:stop] = [self._entries[job.id][1] for job in live]
        self._end = None

    def last_of(self, depth: int):
        """The last job of the first ``depth`` queued (there must be that many, at least
        one): where a window of that depth ends.  Found from where the last one was (a
        pass's window ends near the previous pass's), unless places have moved since."""
        jobs = self._jobs
        head = self._head
        end = self._end
        if end is None or end[0] < head or end[1] - depth > _END_STEPS_BACK:
            place, live = head - 1, 0
        else:
            place, live = end
        if live < depth:
            start, stop = place + 1, place + 1 + depth - live
            # A request is always true, a removed one's place None (see `first`).
            while missing := stop - start - len(list(filter(None, jobs[start:stop]))):
                start, stop = stop, stop + missing
            place, live = stop - 1, depth
        while live > depth or jobs[place] is None:
            if jobs[place] is not None:
                live -= 1
            place -= 1
        last = jobs[place]
        if place + 1 - head - depth > _DEAD_CROSSED:
            self._compact(head, place + 1)
            place = head + depth - 1
        self._end = (place, depth)
        return last

    def fitting(self, after: int, through: int, most: int, shadow: int | None = None,
                now: float = 0.0, first: float = math.inf) -> tuple[list, list]:
        """The queued jobs whose sort keys are after ``after`` and up to ``through`` and
        that ask for at most ``most`` cores, in allocation order, and their sizes: a
        bisection per size queued up to ``most``, whatever the number of jobs between.
        With a ``shadow``, a job bigger than that is kept only if ``now`` plus its duration
        is at most ``first`` (a backfill pass's test of a job that would run past the first
        reservation), read from the durations kept by size, before any job is looked up."""
        sizes = self._sizes_queued
        keys_by_size = self._keys_by_size
        durations_by_size = self._durations_by_size
        if shadow is None:
            shadow = most
        found = []
        # The bigger jobs' keys and durations, tested together at C speed after the loop.
        longer, durations = [], []
        right = bisect.bisect_right
        for size in sizes[:right(sizes, most)]:
            same_size = keys_by_size[size]
            low = right(same_size, after)
            high = right(same_size, through, low)
            if low < high:
                if size <= shadow:
                    found += same_size[low:high]
                else:
                    longer += same_size[low:high]
                    durations += durations_by_size[size][low:high]
        if longer:
            # first >= now + duration, for each
            found += itertools.compress(longer, map(
                operator.ge, itertools.repeat(first),
                map(operator.add, itertools.repeat(now), durations)))
        found.sort()
        entries = self._entries
        chosen = [entries[key >> 64 & _LOW_BITS] for key in found]
        return [entry[0] for entry in chosen], [entry[2] for entry in chosen]

    def jobs(self) -> list:
        """Queued jobs in allocation order (for listings)."""
        return self.first()[0]
