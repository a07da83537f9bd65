"""One scheduling pass, EASY, over a large pending queue on a large machine (benchmark 7).

In-process, no controller: the real scheduler and pool, N nodes of 32 cores almost full of
running jobs with assorted time limits (4 cores free on each of 20 nodes), and P pending
jobs of assorted shapes (81 to 128 cores anywhere, 1 to 64 whole nodes) and limits, none of
which fits now: the pass computes the head's reservation and tries every other job
(``[sched] queue-depth = 0``), the most a pass can cost; and the same pass with the default
queue depth (500), which is what an instance runs.  The figure is the wall time of one pass
triggered by a freed resource, median of repeats, each repeat on a fresh machine; and the
number of passes that run when nothing has changed (must be 0).

Target: P = 10,000 on N = 1,000 in at most 100 ms; cost at most proportional to
P x log(N) (the ratios between sizes are printed).
"""

import asyncio
import math
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

from corral import jobspec  # noqa: E402
from corral.sched import AllocRequest, NodeSpec, QueuePolicies, ResourcePool, Scheduler  # noqa: E402
from corral.sched.policies import DEFAULT_QUEUE_DEPTH, POLICIES  # noqa: E402

CORES_PER_NODE = 32
TARGET_SECONDS = 0.100


class Answers:
    """The scheduler's answers, counted and dropped."""

    def __init__(self):
        self.allocated_count = 0

    def allocated(self, job_id, R, annotations, ranks):
        self.allocated_count += 1

    def denied(self, job_id, note):
        raise RuntimeError(f"job {job_id} denied: {note}")

    def annotate(self, job_id, annotations):
        pass


def _request(generator, nodes, queue=None):
    shape = generator.random()
    limit = generator.choice((60, 600, 3600, 4 * 3600, 24 * 3600))
    if shape < 0.5:
        spec = jobspec.build(["true"], ntasks=generator.randint(81, 4 * CORES_PER_NODE),
                             duration=limit, queue=queue)
    else:
        nnodes = min(generator.choice((1, 1, 2, 4, 8, 16, 64)), nodes)
        spec = jobspec.build(["true"], nnodes=nnodes, duration=limit, queue=queue)
    return jobspec.validate(spec)


def _two_queues(nodes: int) -> dict:
    """Queues ``low`` and ``high``, each owning half the nodes (by hostlist)."""
    half = nodes // 2
    return {"low": {"hostlist": [f"n[0-{half - 1}]"]},
            "high": {"hostlist": [f"n[{half}-{nodes - 1}]"]}}


def one_pass(nodes: int, pending: int, seed: int, depth=None,
             queues=False) -> tuple[float, int, int]:
    """Seconds of one pass considering ``depth`` jobs (None: all); passes run afterwards
    with nothing changed; jobs started.  With ``queues``, two queues own half the nodes each
    and pending jobs alternate between them, so every placement is restricted to a mask."""
    generator = random.Random(seed)
    loop = asyncio.new_event_loop()
    pool = ResourcePool([NodeSpec(f"n{rank}", tuple(range(CORES_PER_NODE)))
                         for rank in range(nodes)])
    answers = Answers()
    owned = _two_queues(nodes) if queues else None
    scheduler = Scheduler(loop, pool, answers, QueuePolicies(
        POLICIES["easy"], depth=depth, queue_names=list(owned) if owned else None,
        nodes=owned))
    now = time.time()
    # Running jobs: one per node, all of it but on 20 nodes, which keep 4 cores free each.
    for rank in range(nodes):
        keep_free = 4 if rank % (nodes // 20) == 0 else 0
        ranks = {rank: (list(range(CORES_PER_NODE - keep_free)), [])}
        R = {"execution": {"starttime": now, "expiration": now + generator.randint(60, 24 * 3600)}}
        scheduler.reserve(AllocRequest(-rank - 1, 0, None, 16, None), ranks, R)
    for job_id in range(1, pending + 1):
        if owned:
            queue = ("low", "high")[job_id % 2]
            request = _request(generator, nodes, queue)
            # Computes the job's mask, as the job manager's request does.
            scheduler.request(AllocRequest(job_id, 0, queue, 16, request))
        else:
            request = _request(generator, nodes)
            scheduler.pending.push(AllocRequest(job_id, 0, None, 16, request))
    passes = 0
    real_schedule = scheduler._schedule

    def counted():
        nonlocal passes
        passes += 1
        real_schedule()

    scheduler._schedule = counted
    scheduler.resources_changed()
    started = time.perf_counter()
    loop.run_until_complete(asyncio.sleep(0))
    seconds = time.perf_counter() - started
    before = passes
    for _ in range(3):
        loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    return seconds, passes - before, answers.allocated_count


def main():
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sizes = [(1000, 1000), (1000, 5000)] if args.quick else [
        (1000, 2500), (1000, 5000), (1000, 10000), (250, 10000), (4000, 10000)]
    report = common.Report("sched", args)
    report.section(f"One EASY pass, {CORES_PER_NODE}-core nodes, median of {args.repeats}")
    medians = {}
    idle_passes = 0
    for nodes, pending in sizes:
        times = []
        started = 0
        for repeat in range(args.repeats):
            seconds, idle, count = one_pass(nodes, pending, seed=repeat)
            times.append(seconds)
            idle_passes += idle
            started += count
        median = statistics.median(times)
        medians[nodes, pending] = median
        label = f"{pending:,} pending on {nodes:,} nodes"
        report.figure(label, median * 1000, "ms",
                      f"max {max(times) * 1000:.1f} ms; "
                      f"{median / (pending * math.log2(nodes)) * 1e9:.0f} ns per pending x "
                      f"log2(nodes); {started / args.repeats:.0f} started")
    times = [one_pass(1000, 10000, seed=repeat, depth=DEFAULT_QUEUE_DEPTH)[0]
             for repeat in range(args.repeats)]
    report.figure(f"10,000 pending on 1,000 nodes, queue-depth {DEFAULT_QUEUE_DEPTH}",
                  statistics.median(times) * 1000, "ms", "the default: what an instance runs")
    times = [one_pass(1000, 10000, seed=repeat, queues=True)[0]
             for repeat in range(args.repeats)]
    report.figure("10,000 pending on 1,000 nodes, two queues of 500 nodes",
                  statistics.median(times) * 1000, "ms",
                  "every placement restricted to its queue's mask of ranks")
    report.figure("passes run with nothing changed", idle_passes)
    report.target("a pass runs only when something changed", idle_passes == 0,
                  f"{idle_passes} passes without a change")
    if (1000, 10000) in medians:
        seconds = medians[1000, 10000]
        report.target("10,000 pending on 1,000 nodes in <= 100 ms", seconds <= TARGET_SECONDS,
                      f"{seconds * 1000:.1f} ms")
        cost = {key: value / (key[1] * math.log2(key[0])) for key, value in medians.items()}
        smallest = cost[sizes[0]]
        worst = max(cost.values()) / smallest
        report.target("cost grows no faster than pending x log(nodes)", worst <= 1.5,
                      f"time / (pending x log2 nodes) at most {worst:.2f}x that at "
                      f"{sizes[0][1]:,} pending on {sizes[0][0]:,} nodes")
    return report.finish()


if __name__ == "__main__":
    sys.exit(common.run(main))
