"""The pending queue keeps allocation order (priority, then id) through any reordering."""

from corral.sched import AllocRequest
from corral.sched.queue import PendingQueue


def FakeJob(job_id, priority):
    return AllocRequest(job_id, 0, None, priority, None)


def test_order_is_priority_descending_then_id():
    queue = PendingQueue()
    jobs = [FakeJob(1, 16), FakeJob(2, 20), FakeJob(3, 16), FakeJob(4, 20)]
    for job in jobs:
        queue.push(job)
    assert [queue.pop().id for _ in jobs] == [2, 4, 1, 3]
    assert queue.pop() is None


def test_reorder_back_and_forth_to_the_same_priority():
    queue = PendingQueue()
    job = FakeJob(7, 18)
    other = FakeJob(8, 17)
    queue.push(job)
    queue.push(other)
    for priority in (16, 18, 16, 18, 16):
        queue.reorder(job.id, priority)
    assert queue.jobs() == [other, job]
    assert [queue.pop().id, queue.pop().id] == [8, 7]
    assert len(queue) == 0


def test_resort_reads_new_priorities_and_removed_jobs_stay_out():
    queue = PendingQueue()
    jobs = [FakeJob(i, 10) for i in range(1, 6)]
    for job in jobs:
        queue.push(job)
    queue.remove(jobs[0].id)
    queue.set_priority(5, 30)
    queue.set_priority(3, 20)
    queue.set_priority(1, 40)  # removed: nothing to change
    queue.resort()
    assert [job.id for job in queue.jobs()] == [5, 3, 2, 4]
    assert len(queue) == 4
