"""Pages of the inactive jobs: most recently ended first, whatever order the table is in."""

import random
import types

import pytest

from corral.jobmanager.joblist import JobList


class Ended:
    __slots__ = ("id", "userid", "t_inactive")

    def __init__(self, job_id, t_inactive):
        self.id = job_id
        self.userid = job_id % 3
        self.t_inactive = t_inactive


def listing(table):
    return JobList(types.SimpleNamespace(inactive=table))


@pytest.mark.parametrize("order", ["in time order", "shuffled", "equal times"])
@pytest.mark.parametrize("count", [None, 0, 1, 99, 100, 101, 999, 1000, 5000])
def test_a_page_is_the_head_of_the_full_sort(order, count):
    rng = random.Random(7)
    times = {"in time order": [1000.0 + i for i in range(1000)],
             "shuffled": [rng.random() for _ in range(1000)],
             "equal times": [5.0] * 1000}[order]
    table = {i + 1: Ended(i + 1, t) for i, t in enumerate(times)}
    full = sorted(table.values(), key=lambda job: (-job.t_inactive, -job.id))

    def mine(job):
        return job.userid == 1

    expected = full if count is None else full[:count]
    assert listing(table)._recent_inactive(count, None) == expected
    filtered = [job for job in full if mine(job)]
    assert listing(table)._recent_inactive(count, mine) == \
        (filtered if count is None else filtered[:count])
