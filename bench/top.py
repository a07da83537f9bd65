"""What one ``corral top`` refresh costs with 100,000 jobs and 1,000 nodes.

    PYTHONPATH=src python bench/top.py [--quick]

One instance with 1,000 nodes of 4 cores (4,000 cores); 100,000 simulated jobs in it:
60,000 inactive, 4,000 running (one core each, an hour long, so every core is busy) and
36,000 pending behind them.  Then, alternated in the same minute:

* a top refresh (`corral.cli.top_watch.Watch.refresh`: nodes, counts, the first 200 pending
  and running jobs, the jobs ended since the last refresh), and laying out a 200 x 60 screen;
* the naive refresh it replaces: one ``job-list.list`` of every job, history included.

Figures: wall time of each (median of the rounds), the controller CPU each costs, and the
ratio.  Targets: a refresh costs the controller under 100 ms of CPU (5% of one core at the
default 2 s delay, so an open ``corral top`` is barely noticed) and is at least 10x faster
than the naive one.  The wall time is reported too: it is what the person waits for, and
what a loaded machine stretches most.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

from corral import jobspec  # noqa: E402
from corral.cli import top_screen, top_watch  # noqa: E402
from corral.states import State  # noqa: E402


def fill(client, inactive: int, running: int, pending: int):
    done = jobspec.build(["true"], setattr=common.SIMULATED)
    client.submit_many([done] * inactive)
    client.rpc("job-manager.queue-drain")
    long = jobspec.build(["true"], setattr=["exec.test.run_duration=3600"], duration=7200)
    ids = client.submit_many([long] * running)
    client.wait_event(ids[-1], "start", 120)
    client.submit_many([done] * pending)
    common.commit_barrier(client)


def timed(controller, call, rounds: int) -> tuple[float, float]:
    """Median wall seconds of ``call()`` and the controller's CPU seconds per call."""
    walls = []
    cpu_before = controller.cpu_seconds()
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        walls.append(time.perf_counter() - started)
    return common.median(walls), (controller.cpu_seconds() - cpu_before) / rounds


def main() -> int:
    args = common.parser(__doc__.splitlines()[0]).parse_args()
    scale = 10 if args.quick else 1
    nodes, inactive, running, pending = 1000, 60000 // scale, 4000, 36000 // scale
    report = common.Report("top", args)
    with common.WorkDir(args, "top") as work:
        config = common.write_config(work.path, [(f"node[0-{nodes - 1}]", "0-3")])
        controller = common.Controller(work.sub("state"), config)
        controller.start()
        try:
            with controller.client() as client:
                started = time.perf_counter()
                fill(client, inactive, running, pending)
                common.log(args, f"filled {inactive + running + pending:,} jobs in "
                                 f"{time.perf_counter() - started:.1f} s")
                stats = client.rpc("job-list.job-stats")["job_states"]
                watch = top_watch.Watch(client)
                view = top_screen.View()
                watch.refresh()
                shown = len(watch.pending) + len(watch.running)

                def refresh():
                    watch.refresh()
                    top_screen.render(watch, view, 200, 60, controller.uri)

                def naive():
                    client.jobs(states=int(State.ACTIVE | State.INACTIVE), userid=-1)

                top_walls, top_cpus, naive_walls, naive_cpus = [], [], [], []
                for _ in range(3):
                    wall, cpu = timed(controller, refresh, 10)
                    top_walls.append(wall)
                    top_cpus.append(cpu)
                    wall, cpu = timed(controller, naive, 1)
                    naive_walls.append(wall)
                    naive_cpus.append(cpu)
        finally:
            controller.stop()
        top_wall, naive_wall = common.median(top_walls), common.median(naive_walls)
        top_cpu, naive_cpu = common.median(top_cpus), common.median(naive_cpus)
        report.section(f"{nodes:,} nodes, {stats['total']:,} jobs: {stats['inactive']:,} "
                       f"inactive, {stats['run']:,} running, {stats['sched']:,} pending")
        report.figure("top refresh + layout, wall", top_wall * 1e3, "ms",
                      f"{shown} jobs fetched")
        report.figure("top refresh, controller CPU", top_cpu * 1e3, "ms")
        report.figure("naive refresh (every job), wall", naive_wall * 1e3, "ms")
        report.figure("naive refresh, controller CPU", naive_cpu * 1e3, "ms")
        report.figure("naive / top, wall", naive_wall / top_wall, "x")
        report.section("targets")
        report.target("controller CPU per refresh < 100 ms", top_cpu < 0.1,
                      f"{top_cpu * 1e3:.0f} ms")
        report.target("a refresh >= 10x cheaper than listing every job",
                      naive_wall / top_wall >= 10, f"{naive_wall / top_wall:.1f}x")
    return report.finish()


if __name__ == "__main__":
    sys.exit(common.run(main))
