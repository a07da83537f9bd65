"""The profile a pass starts from: the running jobs' ends kept from pass to pass are what
building them from every running job would give, and what a pass adds stays its own."""

import bisect
import math
import random

from corral.sched.placement import Capacity
from corral.sched.profile import Profile, RunningEnds


def _from_scratch(now, running):
    """``{moment: {rank: (cores, gpus)}}`` of the running jobs ``{id: (end, counts)}``, an
    end in the past counted as now, zero changes left out."""
    changes = {}
    for end, counts in running.values():
        if end == math.inf:
            continue
        change = changes.setdefault(max(end, now), {})
        for rank, (cores, gpus) in counts.items():
            old = change.get(rank, (0, 0))
            change[rank] = (old[0] + cores, old[1] + gpus)
    return {moment: {rank: value for rank, value in change.items() if value != (0, 0)}
            for moment, change in changes.items()}


def _nonzero(changes):
    return {moment: {rank: value for rank, value in change.items() if value != (0, 0)}
            for moment, change in changes.items()}


def _capacity(rng, nodes):
    cores = [rng.choice((0, 0, 1, 3, 8)) for _ in range(nodes)]
    gpus = [rng.choice((0, 1)) for _ in range(nodes)]
    return Capacity(cores, gpus, [8] * nodes, [1] * nodes,
                    [rank for rank in range(nodes) if cores[rank] > 0])


def test_kept_ends_are_the_running_jobs_ends_and_a_pass_copy_stays_as_it_was():
    rng = random.Random(5)
    nodes = 4
    ends = RunningEnds()
    running = {}
    for step in range(3000):
        action = rng.random()
        if action < 0.45 or not running:
            end = rng.choice((math.inf, float(rng.randint(0, 40)), float(rng.randint(0, 40))))
            counts = {rank: (rng.randint(1, 4), rng.randint(0, 1))
                      for rank in rng.sample(range(nodes), rng.randint(1, nodes))}
            running[step] = (end, dict(counts))
            ends.add(end, counts)
        elif action < 0.6:
            end, counts = running[rng.choice(list(running))]
            released = {rank: counts.pop(rank) for rank in list(counts)[:1]}
            ends.release(end, released)
        elif action < 0.9:
            end, counts = running.pop(rng.choice(list(running)))
            ends.remove(end, counts)
        else:
            now = float(rng.randint(0, 40))
            profile = Profile(now, _capacity(rng, nodes), ends)
            expected = _from_scratch(now, running)
            assert _nonzero(profile.changes) == expected, step
            # a moment is kept while a job ends then, even one with nothing left to free
            assert profile.times == sorted({max(end, now) for end, _counts in
                                            running.values() if end < math.inf}), step
            before = {moment: dict(change) for moment, change in ends.changes.items()}
            profile.start_now({}, now + 3.5)
            if profile.times:
                profile.reserve(profile.times[-1], profile.times[-1] + 2.0, {0: (1, 0)})
            assert ends.changes == before, step  # what the pass adds stays its own
            seen = {moment: dict(change) for moment, change in profile.changes.items()}
            ends.add(now + 7.25, {1: (2, 0)})  # a job the pass starts
            running[-step] = (now + 7.25, {1: (2, 0)})
            assert profile.changes == seen, step  # and the pass's copy stays as it was


def test_cores_past_the_first_reservation_are_each_nodes_least_through_its_start():
    rng = random.Random(9)
    for step in range(500):
        nodes = rng.randint(1, 5)
        ends = RunningEnds()
        for _ in range(rng.randint(0, 8)):
            ends.add(float(rng.randint(1, 30)), {rank: (rng.randint(1, 3), 0) for rank in
                                                 rng.sample(range(nodes), rng.randint(1, nodes))})
        now = 0.0
        capacity = _capacity(rng, nodes)
        profile = Profile(now, capacity, ends)
        for _ in range(rng.randint(1, 3)):
            moment = float(rng.randint(1, 40))
            window = profile._window(profile.current, 0, bisect.bisect_right(profile.times,
                                                                              moment))
            free = {rank: window.cores[rank] for rank in window.ranks}
            if not free:
                break
            rank = rng.choice(list(free))
            profile.reserve(moment, moment + rng.randint(1, 20),
                            {rank: (rng.randint(1, free[rank]), 0)})
        least = list(profile.current.cores)
        running = list(profile.current.cores)
        for moment in profile.times:
            if moment > profile.first_reservation:
                break
            for rank, (cores, _gpus) in profile.changes[moment].items():
                running[rank] += cores
                least[rank] = min(least[rank], running[rank])
        expected = (sum(least) if profile.first_reservation < math.inf
                    else profile.total_cores)
        assert profile.cores_past_first_reservation() == expected, step
