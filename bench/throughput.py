"""Lifecycle throughput with execution simulated (benchmark 1).

Jobs carry ``exec.test.run_duration=0`` (Flux's attribute, as in flux-core's
``t/scripts/throughput.py``): they go through every state, event, store commit and plugin
call, but start no process.  On an instance with 1,024 configured cores, N such jobs are
submitted through the client API and timed from the first submit to the last ``clean`` on
disk, each N on a fresh instance with its store on disk.

``--metrics`` serves the controller's Prometheus endpoint and scrapes it every second
meanwhile, to measure what metrics cost.

Targets: >= 5,000 jobs/s at N = 10,000; rate at N = 100,000 >= 80% of the rate at 10,000.
Baselines measured in the same run: the machine's raw spawn rate (a CPU yardstick) and a
SQLite floor (how fast this disk and Python insert the same eventlog rows in batches).
"""

import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

from corral import jobspec  # noqa: E402

FLUX_SIMULATED = 145  # jobs/s, Flux 0.88 sched-simple, one broker, this kind of machine
FLUX_SIMULATED_1024 = 285  # the same with 1,024 fake cores


def sqlite_floor(directory: str, njobs: int, events_per_job: int) -> float:
    """Jobs/s at which this machine can store ``events_per_job`` event rows per job into a
    WAL database with the controller's schema and pragmas, 1,024 jobs per transaction."""
    path = os.path.join(directory, "floor.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE events (job INTEGER NOT NULL, seq INTEGER NOT NULL, "
               "timestamp REAL NOT NULL, name TEXT NOT NULL, context TEXT, "
               "PRIMARY KEY (job, seq)) WITHOUT ROWID")
    started = time.perf_counter()
    for first in range(1, njobs + 1, 1024):
        rows = [(job, seq, time.time(), "event", '{"k":1}')
                for job in range(first, min(first + 1024, njobs + 1))
                for seq in range(events_per_job)]
        db.execute("BEGIN")
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return njobs / elapsed


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None,
                        help="comma-separated job counts (default 1000,10000,100000)")
    parser.add_argument("--metrics", action="store_true",
                        help="serve [metrics] and scrape it every second during each run")
    args = parser.parse_args()
    sizes = [int(n) for n in (args.sizes or ("200,2000" if args.quick else
                                             "1000,10000,100000")).split(",")]
    report = common.Report("throughput", args)
    spec = jobspec.build(["true"], setattr=common.SIMULATED)

    with common.WorkDir(args, "throughput") as work:
        report.section("baselines (same run)")
        spawn = common.spawn_rate(500 if args.quick else 2000)
        report.figure("raw spawn rate (posix_spawn + waitpid)", spawn, "proc/s")

        rates = {}
        events_per_job = 10
        for n in sizes:
            report.section(f"N = {n:,} simulated jobs, 1,024 cores")
            directory = work.sub(f"n{n}")
            extra = '[metrics]\nlisten = "127.0.0.1:0"\n' if args.metrics else ""
            config = common.write_config(directory, [("node0", "0-1023")], extra)
            controller = common.Controller(os.path.join(directory, "state"), config)
            controller.start()
            try:
                with controller.client() as client:
                    scraper = common.Scraper(client) if args.metrics else None
                    cpu_before = controller.cpu_seconds()
                    timing = common.run_until_clean(client, [spec] * n)
                    cpu = controller.cpu_seconds() - cpu_before
                    if scraper is not None:
                        report.figure("metrics scrapes during the run", scraper.stop())
                    names = common.check_lifecycle(client, timing["ids"][-1])
                    info = client.rpc("job-manager.getinfo")
                memory = controller.memory_kib()
            finally:
                controller.stop()
            if info["inactive"] != n or info["active"] != 0:
                raise RuntimeError(f"expected {n} inactive jobs, controller says {info}")
            events_per_job = len(names)
            rate = n / timing["total_seconds"]
            rates[n] = rate
            report.figure("first submit to last clean", timing["total_seconds"], "s")
            report.figure("  of which submitting (all ids back)", timing["submit_seconds"], "s")
            report.figure("throughput", rate, "jobs/s")
            report.figure("controller CPU per job", cpu / n * 1e6, "us")
            report.figure("controller RSS after", memory["VmRSS"] // 1024, "MiB")
            report.figure("ratio to Flux simulated (145/s)", rate / FLUX_SIMULATED, "x")
            report.figure("ratio to Flux 1,024 fake cores (285/s)", rate / FLUX_SIMULATED_1024,
                          "x")
            report.figure("ratio to raw spawn rate", rate / spawn, "x")
        if not args.quick:
            log_line = f"events per job: {events_per_job} ({', '.join(names)})"
            common.log(args, log_line)

        report.section("baseline: SQLite floor for the same eventlog rows")
        floor_jobs = min(max(sizes), 20000)
        floor = sqlite_floor(work.sub("floor"), floor_jobs, events_per_job)
        report.figure(f"SQLite floor ({events_per_job} rows/job, 1,024 jobs/txn)", floor,
                      "jobs/s")

        report.section("targets")
        mid = 10000 if 10000 in rates else sorted(rates)[len(rates) // 2]
        big = max(rates)
        report.figure(f"rate at N={mid:,} / SQLite floor", rates[mid] / floor, "x")
        report.target(f"throughput at N={mid:,} >= 5,000 jobs/s", rates[mid] >= 5000,
                      f"{rates[mid]:,.0f} jobs/s")
        if big != mid:
            ratio = rates[big] / rates[mid]
            report.target(f"rate at N={big:,} >= 80% of rate at N={mid:,}", ratio >= 0.8,
                          f"{ratio:.0%}")
    return report.finish()


if __name__ == "__main__":
    sys.exit(common.run(main))
