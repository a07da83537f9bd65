"""Where a job step's tasks go in its job's allocation (`corral.jobmanager.step.place`)."""

from corral.jobmanager.step import place

TWO_NODES = {0: ([0, 1, 2, 3], []), 1: ([0, 1, 2, 3], [0, 1])}


def _shape(tasks):
    return {rank: [task["cores"] for task in items] for rank, items in tasks.items()}


def test_tasks_fill_the_nodes_in_order():
    tasks = place(TWO_NODES, {}, 6, 1)
    assert _shape(tasks) == {0: [[0], [1], [2], [3]], 1: [[0], [1]]}
    assert [task["rank"] for items in tasks.values() for task in items] == list(range(6))


def test_cores_in_use_are_skipped_and_a_full_allocation_says_none():
    used = {0: ({0, 1, 2}, set())}
    assert _shape(place(TWO_NODES, used, 2, 2)) == {1: [[0, 1], [2, 3]]}
    assert place(TWO_NODES, used, 3, 2) is None
    assert place(TWO_NODES, {}, 9, 1) is None


def test_nodes_and_tasks_per_node_spread_the_tasks():
    assert _shape(place(TWO_NODES, {}, 3, 1, nnodes=2)) == {0: [[0], [1]], 1: [[0]]}
    assert _shape(place(TWO_NODES, {}, 4, 1, per_node=2)) == {0: [[0], [1]], 1: [[0], [1]]}
    assert place(TWO_NODES, {}, 2, 1, nnodes=3) is None


def test_gpus_per_task_limit_where_tasks_go():
    tasks = place(TWO_NODES, {}, 2, 1, gpus=1)
    assert {rank: [task["gpus"] for task in items] for rank, items in tasks.items()} == {
        1: [[0], [1]]}
    assert place(TWO_NODES, {}, 3, 1, gpus=1) is None
