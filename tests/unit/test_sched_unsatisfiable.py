"""An unsatisfiable request is told what it asked and what the nodes have."""

import pytest

from corral import jobspec
from corral.sched import NodeSpec, ResourcePool

#: Two nodes: 2 cores; 4 cores and a GPU.
POOL = ResourcePool([NodeSpec("small", (0, 1)), NodeSpec("big", (0, 1, 2, 3), (0,))])


@pytest.mark.parametrize(("options", "why"), [
    ({"ntasks": 1, "cores_per_task": 8}, "8 cores per slot requested; the largest node has 4"),
    ({"ntasks": 1, "gpus_per_task": 2}, "2 GPUs per slot requested; the largest node has 1"),
    ({"ntasks": 4, "nnodes": 1, "cores_per_task": 2},
     "8 cores per node requested; the largest node has 4"),
    ({"ntasks": 3, "nnodes": 3}, "3 nodes requested; the instance has 2"),
    ({"ntasks": 2, "nnodes": 2, "cores_per_task": 3},
     "2 nodes of 3 cores requested; 1 of the 2 nodes has that much"),
    ({"ntasks": 2, "nnodes": 2, "gpus_per_task": 1},
     "2 nodes of 1 core and 1 GPU requested; 1 of the 2 nodes has that much"),
    ({"ntasks": 7}, "7 slots of 1 core requested; the 2 nodes hold 6"),
    ({"ntasks": 2, "cores_per_task": 3}, "2 slots of 3 cores requested; the 2 nodes hold 1"),
    ({"ntasks": 2, "gpus_per_task": 1},
     "2 slots of 1 core and 1 GPU requested; the 2 nodes hold 1"),
])
def test_what_was_asked_and_what_exists(options, why):
    request = jobspec.validate(jobspec.build(["true"], **options))
    assert not POOL.feasible(request)
    assert POOL.why_unsatisfiable(request) == why
