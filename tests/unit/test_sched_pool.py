"""The pool takes the lowest free ids of a node, however its free ids are split into runs."""

import random

from corral.sched.pool import NodeSpec, ResourcePool


def _pool_with_busy(cores, gpus, busy_cores, busy_gpus):
    pool = ResourcePool([NodeSpec("n0", tuple(cores), tuple(gpus))])
    pool.reserve({0: (busy_cores, busy_gpus)})
    return pool


def test_take_crosses_the_holes_of_a_fragmented_node_lowest_ids_first():
    # Ids need not start at 0 nor be contiguous: the pool works on their positions.
    cores = [10, 11, 12, 13, 20, 21, 22, 23, 30, 31]
    pool = _pool_with_busy(cores, [0, 1, 2], [11, 12, 21], [1])
    placement = pool.take({0: (5, 2)})
    assert pool.ids(placement) == {0: ([10, 13, 20, 22, 23], [0, 2])}
    assert pool.capacity().cores == [2]
    again = pool.take({0: (2, 0)})
    assert pool.ids(again) == {0: ([30, 31], [])}
    pool.release(placement)
    assert pool.capacity().cores == [5]


def test_take_and_ids_agree_with_taking_one_lowest_free_id_at_a_time():
    rng = random.Random(7)
    for _ in range(300):
        ncores = rng.randint(1, 300)
        cores = list(range(ncores))
        busy = [core for core in cores if rng.random() < rng.random()]
        free = [core for core in cores if core not in set(busy)]
        if not free:
            continue
        count = rng.randint(1, len(free))
        pool = _pool_with_busy(cores, [], busy, [])
        taken = pool.ids(pool.take({0: (count, 0)}))[0][0]
        assert taken == free[:count]
        assert pool.capacity().cores == [len(free) - count]
