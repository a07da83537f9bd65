"""Pending allocation requests, ordered by priority (highest first), then job id.

A sorted list with lazy deletion.  A scheduling pass reads only the first ``queue-depth``
jobs, and it runs after nearly every event, so reading them must cost about that many steps
however long the queue is: `first` slices them off the front of the list.  A new request
usually sorts last (the same priority as the jobs before it, a higher id) and is appended; a
removed one is marked dead where it stands and dropped from the list later, in bulk (dead
entries at the front as the front moves on, the others when a read of the front crosses
enough of them or when they outnumber the live ones).  Re-sorting everything at once
(reprioritize-all) is one sort of an almost sorted list.  Entries are ``[-priority, id,
serial, job]``: the serial is unique, so a dead entry and a live one for the same job and
priority never get as far as comparing their job slots.
"""

import bisect
import itertools

#: Dead entries a read of the front may cross before it drops them from the list.
_DEAD_CROSSED = 32
#: Dead entries kept at most, beyond as many as there are live ones.
_DEAD_KEPT = 1024


class PendingQueue:
    def __init__(self):
        self._order: list[list] = []
        #: Every entry before this index is dead.
        self._head = 0
        self._entries: dict[int, list] = {}
        self._serial = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, job) -> bool:
        return job.id in self._entries

    def job(self, job_id: int):
        """The queued job with this id."""
        return self._entries[job_id][3]

    def push(self, job):
        entry = [-job.priority, job.id, next(self._serial), job]
        self._entries[job.id] = entry
        order = self._order
        if len(order) == self._head or order[-1] < entry:
            order.append(entry)
        else:
            bisect.insort(order, entry, self._head)

    def remove(self, job) -> bool:
        entry = self._entries.pop(job.id, None)
        if entry is None:
            return False
        entry[3] = None
        dead = len(self._order) - len(self._entries)
        if dead > _DEAD_KEPT and dead > len(self._entries):
            self._order = [entry for entry in self._order if entry[3] is not None]
            self._head = 0
        return True

    def reorder(self, job):
        if self.remove(job):
            self.push(job)

    def resort(self):
        """Re-read every queued job's priority and rebuild the order in one pass."""
        for entry in self._entries.values():
            entry[0] = -entry[3].priority
        self._order = sorted(self._entries.values())
        self._head = 0

    def first(self, depth: int | None = None) -> list:
        """The first ``depth`` queued jobs (all by default), in allocation order."""
        order = self._order
        head = self._head
        end = len(order)
        while head < end and order[head][3] is None:
            head += 1
        self._head = head
        wanted = len(self._entries) if depth is None else min(depth, len(self._entries))
        stop = head + wanted
        live = [entry for entry in order[head:stop] if entry[3] is not None]
        while len(live) < wanted:
            start, stop = stop, stop + wanted - len(live)
            live += [entry for entry in order[start:stop] if entry[3] is not None]
        if stop - head - len(live) > _DEAD_CROSSED:
            order[head:stop] = live
        return [entry[3] for entry in live]

    def jobs(self):
        """Queued jobs in allocation order (for listings)."""
        return self.first()
