"""Pending allocation requests (`AllocRequest`), ordered by priority (highest first), then job
id.

A sorted list with lazy deletion.  A scheduling pass reads only the first ``queue-depth``
jobs, and it runs after nearly every event, so reading them must cost about that many steps
at C speed, however long the queue is: `first` slices them off the front of the list, with
each job's size (the cores it asks for), which a backfill pass filters them by.  Three
lists stay aligned: the sort keys ``(-priority, id, serial)`` (the serial is unique, so a
reordered job's old key and new one never tie), the sizes, and the jobs, where a removed
job's place holds None until the lists are rebuilt.  A new request usually sorts last (the
same priority as the jobs before it, a higher id) and is appended; a removed one is found
by bisection.  Dead places are dropped in bulk: at the front as the front moves on, within
the front when a read crosses enough of them, everywhere when they outnumber the live
ones.  Re-sorting everything at once (reprioritize-all) is one sort of an almost sorted
list.
"""

import bisect
import itertools
import operator

#: Dead places a read of the front may cross before it drops them from the lists.
_DEAD_CROSSED = 32
#: Dead places kept at most, beyond as many as there are live ones.
_DEAD_KEPT = 1024


class PendingQueue:
    def __init__(self, size):
        """``size(job)``: the cores the job asks for, read once, when it is queued."""
        self._size = size
        self._keys: list[tuple] = []
        self._sizes: list[int] = []
        self._jobs: list = []
        #: Every place before this index is dead.
        self._head = 0
        #: Job id -> (job, its sort key, its size).
        self._entries: dict[int, tuple] = {}
        self._serial = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def push(self, job) -> tuple:
        """Queue ``job``; its sort key."""
        key = (-job.priority, job.id, next(self._serial))
        size = self._size(job)
        self._entries[job.id] = (job, key, size)
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
        return key

    def key(self, job_id: int) -> tuple:
        """The sort key of queued job ``job_id``: a job sorts after those whose keys are
        smaller."""
        return self._entries[job_id][1]

    def remove(self, job_id: int) -> bool:
        entry = self._entries.pop(job_id, None)
        if entry is None:
            return False
        self._jobs[bisect.bisect_left(self._keys, entry[1], self._head)] = None
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
        for job, (_priority, job_id, serial), size in list(entries.values()):
            entries[job_id] = (job, (-job.priority, job_id, serial), size)
        self._rebuild(sorted(entries.values(), key=operator.itemgetter(1)))

    def _rebuild(self, entries):
        self._keys = [key for _job, key, _size in entries]
        self._sizes = [size for _job, _key, size in entries]
        self._jobs = [job for job, _key, _size in entries]
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
                jobs[head:stop] = live
                self._sizes[head:stop] = sizes
                self._keys[head:stop] = [self._entries[job.id][1] for job in live]
        return live, sizes

    def jobs(self) -> list:
        """Queued jobs in allocation order (for listings)."""
        return self.first()[0]
