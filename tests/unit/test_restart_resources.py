"""At restart a job keeps the resources it still held: not the ranks it had released."""

import asyncio

from corral.jobmanager.restart import _released_since_alloc
from corral.sched import AllocRequest, NodeSpec, ResourcePool, Scheduler


def event(name, **context):
    return {"timestamp": 0.0, "name": name, "context": context}


def test_released_ranks_count_only_since_the_last_alloc():
    events = [event("alloc"), event("release", ranks="0-1", final=False),
              event("requeue", reason="x", hold=False), event("alloc"),
              event("release", ranks="2", final=False), event("release", ranks="0", final=False)]
    assert _released_since_alloc(events) == {0, 2}


def test_reserve_leaves_released_ranks_free():
    pool = ResourcePool([NodeSpec(f"n{i}", (0, 1)) for i in range(3)])
    loop = asyncio.new_event_loop()
    try:
        scheduler = Scheduler(loop, pool, None)
        ranks = {0: ([0, 1], []), 1: ([0, 1], []), 2: ([0], [])}
        scheduler.reserve(AllocRequest(7, 0, None, 16, None), ranks, None, released={1})
        assert [node.free_cores.bit_count() for node in pool.nodes] == [0, 2, 1]
        scheduler.free(7)
        assert [node.free_cores.bit_count() for node in pool.nodes] == [2, 2, 2]
    finally:
        loop.close()
