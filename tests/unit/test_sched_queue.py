"""The pending queue keeps allocation order (priority, then id) through any reordering, and
its front reads the same however many removed jobs it has crossed."""

import random

from corral.sched import AllocRequest
from corral.sched.queue import PendingQueue


def FakeJob(job_id, priority):
    return AllocRequest(job_id, 0, None, priority, None)


def _queue():
    return PendingQueue(size=lambda job: 1)


def test_order_is_priority_descending_then_id():
    queue = _queue()
    jobs = [FakeJob(1, 16), FakeJob(2, 20), FakeJob(3, 16), FakeJob(4, 20)]
    for job in jobs:
        queue.push(job)
    assert [job.id for job in queue.jobs()] == [2, 4, 1, 3]
    assert [job.id for job in queue.first(3)[0]] == [2, 4, 1]
    for job in jobs:
        queue.remove(job.id)
    assert queue.jobs() == [] and queue.first(3) == ([], [])


def test_reorder_back_and_forth_to_the_same_priority():
    queue = _queue()
    job = FakeJob(7, 18)
    other = FakeJob(8, 17)
    queue.push(job)
    queue.push(other)
    for priority in (16, 18, 16, 18, 16):
        queue.reorder(job.id, priority)
    assert queue.jobs() == [other, job]
    assert queue.first(1) == ([other], [1])
    assert len(queue) == 2


def test_resort_reads_new_priorities_and_removed_jobs_stay_out():
    queue = _queue()
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


def test_front_skips_removed_jobs_wherever_they_are():
    queue = _queue()
    for i in range(1, 5001):
        queue.push(FakeJob(i, 16))
    # Started jobs leave holes at the front and within it; cancelled ones far behind.
    removed = {i for i in range(1, 5001) if i <= 300 or (i < 1500 and i % 3 == 0)
               or i > 4000}
    for i in sorted(removed):
        queue.remove(i)
    kept = [i for i in range(1, 5001) if i not in removed]
    assert [job.id for job in queue.first(500)[0]] == kept[:500]
    assert [job.id for job in queue.first(500)[0]] == kept[:500]
    queue.push(FakeJob(9999, 16))
    queue.push(FakeJob(10000, 31))
    assert [job.id for job in queue.first(2)[0]] == [10000, kept[0]]
    assert [job.id for job in queue.jobs()] == [10000, *kept, 9999]
    assert len(queue) == len(kept) + 2


def test_fitting_finds_by_size_what_reading_the_window_would():
    sizes = {i: (i * 7) % 13 + 1 for i in range(1, 3001)}
    queue = PendingQueue(size=lambda job: sizes[job.id])
    for i in range(1, 3001):
        queue.push(FakeJob(i, 16 + i % 3))
    for i in range(1, 3001, 5):
        queue.remove(i)
    queue.reorder(42, 99)
    for job_id, priority in ((7, 50), (8, 1), (9, 30)):
        queue.set_priority(job_id, priority)
    queue.resort()
    for i in range(3, 400, 4):
        queue.remove(i)  # started jobs within the window, after the re-sort
    order = queue.jobs()
    for depth in (1, 16, 500, len(order)):
        assert queue.last_of(depth) is order[depth - 1]
    after, through = queue.key(order[15].id), queue.key(order[499].id)
    for most in (0, 1, 5, 13):
        expected = [job for job in order[16:500] if sizes[job.id] <= most]
        jobs, found_sizes = queue.fitting(after, through, most)
        assert jobs == expected
        assert found_sizes == [sizes[job.id] for job in expected]
    assert queue.jobs() == order  # reading the window dropped no job


def test_fitting_past_a_shadow_keeps_the_jobs_that_end_in_time():
    sizes = {i: i % 9 + 1 for i in range(1, 2001)}
    durations = {i: float(i * 37 % 101) for i in range(1, 2001)}
    queue = PendingQueue(size=lambda job: sizes[job.id], duration=lambda job: durations[job.id])
    for i in range(1, 2001):
        queue.push(FakeJob(i, 16 + i % 4))
    for i in range(2, 2001, 7):
        queue.remove(i)
    queue.reorder(77, 90)
    for job_id, priority in ((5, 40), (6, 2)):
        queue.set_priority(job_id, priority)
    queue.resort()
    sizes[3000], durations[3000] = 2, 3.0
    queue.push(FakeJob(3000, 17))  # sorts within the queue, not last
    order = queue.jobs()
    after, through = queue.key(order[9].id), queue.key(order[399].id)
    now, first = 1000.0, 1050.0
    for most in (0, 3, 9):
        for shadow in (0, 2, most):
            expected = [job for job in order[10:400] if sizes[job.id] <= most and (
                sizes[job.id] <= shadow or now + durations[job.id] <= first)]
            jobs, found_sizes = queue.fitting(after, through, most, shadow, now, first)
            assert jobs == expected
            assert found_sizes == [sizes[job.id] for job in expected]
    assert any(sizes[job.id] > 2 and now + durations[job.id] > first for job in order[10:400])


def test_window_end_found_from_the_last_one_is_the_one_reading_would_find():
    rng = random.Random(7)
    queue = _queue()
    queued = {}
    next_id = 1
    for step in range(4000):
        action = rng.random()
        if action < 0.35 or len(queued) < 5:
            job = FakeJob(next_id, rng.choice((16, 16, 16, 20)))
            queued[next_id] = job
            queue.push(job)
            next_id += 1
        elif action < 0.6:
            # started jobs: near the front, mostly
            front = _order(queued)[:rng.choice((3, 30, 600))]
            job = rng.choice(front)
            queue.remove(job.id)
            del queued[job.id]
        elif action < 0.65:
            queue.reorder(rng.choice(list(queued)), rng.choice((10, 16, 25)))
        elif action < 0.67:
            for job_id in rng.sample(list(queued), min(5, len(queued))):
                queue.set_priority(job_id, rng.choice((10, 16, 25)))
            queue.resort()
        elif action < 0.75:
            queue.first(rng.choice((1, 16, 500)))
        else:
            order = _order(queued)
            depth = rng.randint(1, min(len(order), rng.choice((20, 500, 2000))))
            assert queue.last_of(depth) is order[depth - 1], step
    assert queue.jobs() == _order(queued)


def _order(queued):
    """Allocation order, worked out without the queue."""
    return sorted(queued.values(), key=lambda job: (-job.priority, job.id))


def test_the_window_searched_by_size_follows_joins_and_leaves():
    """With a depth, `fitting` searches the first ``depth`` jobs only, kept by size through
    pushes ahead of and behind the window, removals within and behind it, and re-sorts."""
    rng = random.Random(11)
    depth = 40
    sizes, durations = {}, {}
    queue = PendingQueue(size=lambda job: sizes[job.id], duration=lambda job: durations[job.id],
                         depth=depth)
    queued = {}
    next_id = 1
    for step in range(6000):
        action = rng.random()
        # The queue grows past the depth and shrinks below it, by turns.
        if action < (0.5 if step // 300 % 2 else 0.2) or len(queued) < 3:
            job = FakeJob(next_id, rng.choice((16, 16, 16, 20, 12)))
            sizes[next_id], durations[next_id] = rng.randint(1, 9), float(rng.randint(1, 50))
            queued[next_id] = job
            queue.push(job)
            next_id += 1
        elif action < 0.7:
            front = _order(queued)[:rng.choice((3, depth, 2 * depth, 500))]
            job = rng.choice(front)
            queue.remove(job.id)
            del queued[job.id]
        elif action < 0.75:
            queue.reorder(rng.choice(list(queued)), rng.choice((10, 16, 25)))
        elif action < 0.77:
            for job_id in rng.sample(list(queued), min(5, len(queued))):
                queue.set_priority(job_id, rng.choice((10, 16, 25)))
            queue.resort()
        else:
            window = _order(queued)[:depth]
            start = rng.randrange(len(window))
            end = rng.randrange(start, len(window))
            after, through = queue.key(window[start].id), queue.key(window[end].id)
            most, shadow = rng.randint(0, 9), rng.randint(0, 9)
            now, first = 100.0, 100.0 + rng.randint(0, 50)
            expected = [job for job in window[start + 1:end + 1] if sizes[job.id] <= most and (
                sizes[job.id] <= shadow or now + durations[job.id] <= first)]
            jobs, found_sizes = queue.fitting(after, through, most, shadow, now, first)
            assert jobs == expected, step
            assert found_sizes == [sizes[job.id] for job in expected], step
    assert queue.jobs() == _order(queued)
