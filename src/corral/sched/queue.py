"""Pending allocation requests (`AllocRequest`), ordered by priority (highest first), then job
id.

A heap with lazy deletion: cancelling or reprioritizing a request marks its heap entry dead
and, for a new priority, pushes a fresh one, so every operation is O(log n) and re-sorting
everything at once (reprioritize-all) is one heapify.  Entries are ``[-priority, id, serial,
request]``: the serial is unique, so a dead entry and a live one for the same job and priority
never get as far as comparing their request slots.
"""

import bisect
import heapq
import itertools

#: How many jobs `in_order` takes off the heap one by one before sorting the rest.
_POPS_BEFORE_SORT = 16
#: A walk of at most 1/8 of the queue pops every job it takes instead of sorting the queue.
_SHORT_WALK = 8


class PendingQueue:
    def __init__(self):
        self._heap: list[list] = []
        self._entries: dict[int, list] = {}
        self._serial = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def push(self, job):
        entry = [-job.priority, job.id, next(self._serial), job]
        self._entries[job.id] = entry
        heapq.heappush(self._heap, entry)

    def remove(self, job_id: int) -> bool:
        entry = self._entries.pop(job_id, None)
        if entry is None:
            return False
        entry[3] = None
        return True

    def reorder(self, job_id: int, priority: int):
        """The request of ``job_id`` waits with ``priority`` from now on."""
        entry = self._entries.get(job_id)
        if entry is not None:
            job = entry[3]
            self.remove(job_id)
            job.priority = priority
            self.push(job)

    def set_priority(self, job_id: int, priority: int):
        """A new priority for the request of ``job_id``, in effect at the next `resort`."""
        entry = self._entries.get(job_id)
        if entry is not None:
            entry[3].priority = priority

    def peek(self):
        heap = self._heap
        while heap and heap[0][3] is None:
            heapq.heappop(heap)
        return heap[0][3] if heap else None

    def pop(self):
        job = self.peek()
        if job is not None:
            heapq.heappop(self._heap)
            del self._entries[job.id]
        return job

    def resort(self):
        """Re-read every queued job's priority and rebuild the order in one pass."""
        heap = []
        for entry in self._entries.values():
            entry[0] = -entry[3].priority
            heap.append(entry)
        heapq.heapify(heap)
        self._heap = heap

    def in_order(self, depth=None):
        """The first ``depth`` queued jobs (all by default) in allocation order, lazily.

        A walk that stops after a few jobs, or is short for the queue, takes them off the
        heap itself (a few pops however long the queue); a longer one sorts the heap (a
        sorted list is a heap, so the next pass's sort is nearly free).  Jobs the caller did
        not remove go back when the walk ends or is closed."""
        heap = self._heap
        short = depth is not None and (depth <= _POPS_BEFORE_SORT
                                       or depth * _SHORT_WALK < len(heap))
        pops = depth if short else _POPS_BEFORE_SORT
        taken = []
        try:
            for _ in range(pops):
                while heap and heap[0][3] is None:
                    heapq.heappop(heap)
                if not heap:
                    return
                entry = heapq.heappop(heap)
                taken.append(entry)
                yield entry[3]
            if short:
                return
            last = taken[-1]
            live = [entry for entry in (*taken, *heap) if entry[3] is not None]
            taken = []
            live.sort()
            self._heap = live
            # Entries are unique by (priority, id, serial): go on after the last one taken,
            # whether or not the caller has since removed it.
            rest = live[bisect.bisect_right(live, last):]
            if depth is not None:
                rest = rest[:depth - pops]
            for entry in rest:
                if entry[3] is not None:
                    yield entry[3]
        finally:
            for entry in taken:
                if entry[3] is not None:
                    heapq.heappush(heap, entry)

    def jobs(self):
        """Queued jobs in allocation order (for listings; O(n log n))."""
        return [entry[3] for entry in sorted(self._entries.values())]
