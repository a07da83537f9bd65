"""Lublin-256 (10,000 jobs) through ``corral sim`` agrees, job by job, with a simulator
written here from the textbook definitions, sharing none of corral's code.

Conventions both follow (docs/sim.md): one machine of 256 interchangeable cores; a job asks for
its processors as cores and its run time as its time limit (the trace's requested time is
-1); at a moment, jobs that end then give their cores back before the jobs submitted then
are queued, and one scheduling pass follows; the queue is in submit order (ties in trace
order).  FCFS starts queued jobs from the head while they fit.  EASY then reserves for the
first job that does not fit the earliest moment enough cores are free by the running jobs'
limits (every job ending at that moment counted), and starts a later job now if it fits and
either ends by that moment or fits in the cores the reservation leaves spare then.  A pass
considers the first ``queue-depth`` queued jobs only (500 by default); one that
considered that many and started some is followed by another pass at the same moment.
"""

import heapq

from sim_helpers import DATA, read_swf

LUBLIN = "lublin_256.swf"
CORES = 256


def reference_schedule(jobs, cores, backfill, depth=500):
    """``{job number: start}``; ``jobs`` is ``{number: (submit, _, run, processors, _)}``;
    ``depth`` 0 considers the whole queue in every pass."""
    arrivals = sorted(jobs, key=lambda number: (jobs[number][0], number))
    running = []  # heap of (limit end, number, processors)
    queue = []
    free = cores
    starts = {}
    next_arrival = 0

    def start(number, now):
        nonlocal free
        run, processors = jobs[number][2], jobs[number][3]
        starts[number] = now
        free -= processors
        heapq.heappush(running, (now + max(run, 1), number, processors))
        queue.remove(number)

    def one_pass(now) -> bool:
        """Whether another pass must follow at this moment."""
        window = queue[:depth] if depth else list(queue)
        head = 0
        while head < len(window) and jobs[window[head]][3] <= free:
            start(window[head], now)
            head += 1
        started = head
        if backfill and head < len(window):
            needed = jobs[window[head]][3]
            available = free
            shadow = None
            for end, _number, processors in sorted(running):
                if shadow is not None and end > shadow:
                    break
                available += processors
                if available >= needed:
                    shadow = end
            spare = available - needed
            for number in window[head + 1:]:
                processors, limit = jobs[number][3], max(jobs[number][2], 1)
                if processors > free:
                    continue
                if now + limit <= shadow:
                    start(number, now)
                    started += 1
                elif processors <= spare:
                    start(number, now)
                    started += 1
                    spare -= processors
        return bool(depth) and started > 0 and len(window) == depth

    while next_arrival < len(arrivals) or running:
        now = min(running[0][0] if running else float("inf"),
                  jobs[arrivals[next_arrival]][0] if next_arrival < len(arrivals)
                  else float("inf"))
        while running and running[0][0] == now:
            free += heapq.heappop(running)[2]
        while next_arrival < len(arrivals) and jobs[arrivals[next_arrival]][0] == now:
            queue.append(arrivals[next_arrival])
            next_arrival += 1
        while queue and one_pass(now):
            pass
    return starts


def _compare(corral_sim, policy, depth=None, tmp_path=None):
    jobs = read_swf(f"{DATA}/{LUBLIN}")
    options = ["--cores", str(CORES), "--queue-policy", policy]
    if depth is not None:
        config = tmp_path / "depth.toml"
        config.write_text(f"[sched]\nqueue-depth = {depth}\n")
        options += ["--config", str(config)]
    summary, starts = corral_sim(LUBLIN, *options)
    expected = reference_schedule(jobs, CORES, backfill=policy == "easy",
                                  depth=500 if depth is None else depth)
    assert summary["jobs"] == len(jobs) == 10_000
    different = [number for number in jobs if starts[number] != expected[number]]
    assert not different, (f"{len(different)} jobs start at other times, the first: job "
                           f"{different[0]} at {starts[different[0]]}, expected "
                           f"{expected[different[0]]}")
    return summary, starts, expected


def test_lublin_fcfs_agrees_with_an_independent_simulator(corral_sim):
    _compare(corral_sim, "fcfs")


def test_lublin_easy_agrees_with_an_independent_simulator(corral_sim, tmp_path):
    summary, starts, _expected = _compare(corral_sim, "easy")
    jobs = read_swf(f"{DATA}/{LUBLIN}")
    fcfs = reference_schedule(jobs, CORES, backfill=False)
    backfilled = [number for number in jobs if starts[number] < fcfs[number]]
    assert len(backfilled) > 1000  # backfilling matters on this trace
    _summary, shallow, _expected = _compare(corral_sim, "easy", 32, tmp_path)
    deeper = [number for number in jobs if starts[number] < shallow[number]]
    assert len(deeper) > 100  # 500 deep backfills jobs that 32 deep does not
