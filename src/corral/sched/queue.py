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
most of them bigger: the queue also keeps the jobs of the window (the first ``depth``) in
order of size, with their durations, updated as jobs join it (queued ahead of its last job,
or next behind it when one leaves) and leave it, so that such a pass finds the few jobs of
its window that fit, in cores and, past the first reservation, in time, with one bisection
and without reading the others (`fitting`).  The jobs queued behind the window, often
thousands, cost it nothing.
"""

import bisect
import itertools
import math
import operator

#: Dead places a read of the front may cross before it drops them from the lists.
_DEAD_CROSSED = 32
#: Dead places kept at most, beyond as many as there are live ones.
_DEAD_KEPT = 1024
#: The bits of a sort key's serial.
_LOW_BITS = (1 << 64) - 1
#: The sort key of a window's entry.
_KEY = operator.itemgetter(1)


def _sort_key(priority: int, job_id: int, serial: int) -> int:
    """``(-priority, job_id, serial)`` as one int of the same order: job ids and serials
    are below 2**64."""
    return (-priority << 128) + (job_id << 64) + serial


class PendingQueue:
    def __init__(self, size, duration=None, depth: int | None = None):
        """``size(job)``: the cores the job asks for; ``duration(job)``: how long it is
        expected to run (None: no bound, see `fitting`); each read once, when it is
        queued.  ``depth``: how many jobs from the front a pass's window holds at most
        (None: every job), the jobs `fitting` searches."""
        self._size = size
        self._duration = duration
        self._depth = depth
        self._keys: list[int] = []
        self._sizes: list[int] = []
        self._jobs: list = []
        #: Every place before this index is dead.
        self._head = 0
        #: Job id -> (job, its sort key, its size, its duration).
        self._entries: dict[int, tuple] = {}
        #: The jobs of the window as ``(size, sort key, job)``, in order (of size, then
        #: key: no two keys tie), and their durations, aligned.
        self._window: list[tuple] = []
        self._window_durations: list = []
        #: The sort key of the window's last job, while the queue holds ``depth`` jobs or
        #: more (a later job is not in the window); None while the window is every job.
        self._last: int | None = None
        self._serial = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def push(self, job) -> int:
        """Queue ``job``; its sort key."""
        key = _sort_key(job.priority, job.id, next(self._serial))
        size = self._size(job)
        duration = None if self._duration is None else self._duration(job)
        entry = self._entries[job.id] = (job, key, size, duration)
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
        last = self._last
        if last is None:
            self._join(entry)
            if len(self._entries) == self._depth:
                self._last = keys[self._live(len(keys) - 1, -1)]
        elif key < last:
            # It pushes the window's last job out.
            self._join(entry)
            place = self._place(last)
            self._leave(self._entries[self._jobs[place].id])
            self._last = keys[self._live(place - 1, -1)]
        return key

    def _join(self, entry):
        """Put a queued job's ``entry`` in the window."""
        job, key, size, duration = entry
        place = bisect.bisect_left(self._window, (size, key))
        self._window.insert(place, (size, key, job))
        self._window_durations.insert(place, duration)

    def _leave(self, entry):
        place = bisect.bisect_left(self._window, (entry[2], entry[1]))
        del self._window[place]
        del self._window_durations[place]

    def _place(self, key: int) -> int:
        """Where the queued job of sort key ``key`` is in the lists."""
        return bisect.bisect_left(self._keys, key, self._head)

    def _live(self, place: int, step: int) -> int:
        """The first live place from ``place`` on, stepping by ``step`` (there must be
        one)."""
        jobs = self._jobs
        while jobs[place] is None:
            place += step
        return place

    def key(self, job_id: int) -> int:
        """The sort key of queued job ``job_id``: a job sorts after those whose keys are
        smaller."""
        return self._entries[job_id][1]

    def remove(self, job_id: int) -> bool:
        entry = self._entries.pop(job_id, None)
        if entry is None:
            return False
        key = entry[1]
        place = self._place(key)
        self._jobs[place] = None
        last = self._last
        if last is None or key <= last:
            self._leave(entry)
            if last is not None:
                if len(self._entries) < self._depth:
                    self._last = None
                else:
                    # The next job behind the window joins it.
                    place = self._live(self._place(last) + 1, 1)
                    self._last = self._keys[place]
                    self._join(self._entries[self._jobs[place].id])
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
        window = ordered if self._depth is None else ordered[:self._depth]
        by_size = sorted(window, key=operator.itemgetter(2, 1))
        self._window = [(size, key, job) for job, key, size, _duration in by_size]
        self._window_durations = [entry[3] for entry in by_size]
        self._last = window[-1][1] if len(window) == self._depth else None

    def _rebuild(self, entries):
        self._keys = [entry[1] for entry in entries]
        self._sizes = [entry[2] for entry in entries]
        self._jobs = [entry[0] for entry in entries]
        self._head = 0

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

    def _compact(self, head: int, stop: int, live: list, sizes: list):
        """Drop the dead places between ``head`` and ``stop``, where ``live`` are left, of
        ``sizes``."""
        self._jobs[head:stop] = live
        self._sizes[head:stop] = sizes
        self._keys[head:stop] = [self._entries[job.id][1] for job in live]

    def last_of(self, depth: int):
        """The last job of the first ``depth`` queued (at least one, and no more than the
        window holds): where a window of that depth ends.  Stepped back to from the
        window's last job: a pass's window ends there, or a job back for each job the pass
        has started."""
        jobs = self._jobs
        if self._last is None:
            place, steps = self._live(len(jobs) - 1, -1), len(self._entries) - depth
        else:
            place, steps = self._place(self._last), self._depth - depth
        while steps:
            place -= 1
            if jobs[place] is not None:
                steps -= 1
        return jobs[place]

    def fitting(self, after: int, through: int, most: int, shadow: int | None = None,
                now: float = 0.0, first: float = math.inf) -> tuple[list, list]:
        """The queued jobs whose sort keys are after ``after`` and up to ``through`` (a key
        within the window) and that ask for at most ``most`` cores, in allocation order,
        and their sizes: one bisection of the window by size, whatever the number of jobs
        bigger.  With a ``shadow``, a job bigger than that is kept only if ``now`` plus its
        duration is at most ``first`` (a backfill pass's test of a job that would run past
        the first reservation)."""
        window = self._window
        stop = bisect.bisect_left(window, (most + 1,))
        if shadow is None or shadow >= most:
            found = [entry for entry in window[:stop] if after < entry[1] <= through]
        else:
            split = bisect.bisect_left(window, (shadow + 1,), 0, stop)
            found = [entry for entry in window[:split] if after < entry[1] <= through]
            durations = self._window_durations[split:stop]
            found += [entry for entry, duration in zip(window[split:stop], durations,
                                                      strict=True)
                      if now + duration <= first and after < entry[1] <= through]
        found.sort(key=_KEY)
        return [entry[2] for entry in found], [entry[0] for entry in found]

    def jobs(self) -> list:
        """Queued jobs in allocation order (for listings)."""
        return self.first()[0]
