"""Scale of one instance: memory with N inactive jobs kept, and restart over that store
(benchmark 4).

A fresh instance (1,024 configured cores) runs N simulated jobs to completion; its resident
memory is read from ``/proc/<pid>/status``, then it is stopped (SIGTERM) and started again on
the same state directory, timed from exec to the first answer, and its memory read again.
Baselines in the same run: the start-up time and memory of the same instance while empty.

Then the store's bytes per job for jobs as ``corral submit --cc`` sends them (this process's
environment in each, plus ``CORRAL_JOB_CC``), on a fresh state directory: N such jobs run to
completion, the store is measured, every job is purged, and the store is measured again once
its files stop shrinking.

Targets (N = 100,000): controller RSS < 1 GiB; restart < 10 s.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

from corral import jobspec  # noqa: E402
from corral.jsoncodec import dumps  # noqa: E402

GIB_KIB = 2**20


def store_bytes(state_dir: str) -> int:
    """The bytes of the store's files (database and write-ahead log)."""
    store = os.path.join(state_dir, "corral.db")
    return sum(os.path.getsize(store + suffix) for suffix in ("", "-wal")
               if os.path.exists(store + suffix))


def measure_store_per_job(report, controller, njobs: int):
    """Fill a fresh store with ``njobs`` jobs that carry this environment, then purge them.
    Sizes are read with the controller stopped, when the log has been copied into the
    database file, so the figure is the store's and not the log's momentary length."""
    environment = dict(os.environ)
    specs = [jobspec.build(["true"], setattr=common.SIMULATED,
                           environment={**environment, "CORRAL_JOB_CC": str(cc)})
             for cc in range(1, njobs + 1)]
    report.figure("environment per job (JSON)", len(dumps(specs[0]["attributes"]["system"]
                                                          ["environment"])), "bytes")
    controller.start()
    try:
        with controller.client() as client:
            timing = common.run_until_clean(client, specs)
    finally:
        controller.stop()
    del specs
    full = store_bytes(controller.state_dir)
    controller.start()
    try:
        with controller.client() as client:
            started = time.perf_counter()
            answer = client.rpc("job-manager.purge",
                                {"num_limit": 0, "batch": njobs, "force": True})
            common.commit_barrier(client)
            # Given back in steps after the purge commits, the last of which empties the log:
            # wait for that, or (a store that gives nothing back) for 10 s without a change.
            wal = os.path.join(controller.state_dir, "corral.db-wal")
            sizes = [store_bytes(controller.state_dir)]
            deadline = started + 600
            while time.perf_counter() < deadline and (len(sizes) < 21 or sizes[-21] != sizes[-1]):
                if os.path.exists(wal) and os.path.getsize(wal) == 0:
                    break
                time.sleep(0.5)
                sizes.append(store_bytes(controller.state_dir))
            reclaim_seconds = time.perf_counter() - started
    finally:
        controller.stop()
    if answer["count"] != njobs:
        raise RuntimeError(f"purge removed {answer['count']} jobs, not {njobs}")
    emptied = store_bytes(controller.state_dir)
    report.figure("filling (first submit to last clean)", timing["total_seconds"], "s")
    report.figure("store size with N inactive jobs (stopped)", full / 2**20, "MiB")
    report.figure("store bytes per job", full / njobs, "bytes")
    report.figure("purge to space given back (or 10 s unchanged)", reclaim_seconds, "s")
    report.figure("store size after purging all N (stopped)", emptied / 2**20, "MiB")


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("-n", "--jobs", type=int, default=None, help="job count (100000)")
    args = parser.parse_args()
    njobs = args.jobs or (5000 if args.quick else 100000)
    report = common.Report("scale", args)
    spec = jobspec.build(["true"], setattr=common.SIMULATED)

    with common.WorkDir(args, "scale") as work:
        config = common.write_config(work.path, [("node0", "0-1023")])
        controller = common.Controller(work.sub("state"), config)

        report.section("baseline: the same instance, empty (same run)")
        empty_start = controller.start()
        empty_memory = controller.memory_kib()
        report.figure("start-up, empty store", empty_start, "s")
        report.figure("RSS, empty", empty_memory["VmRSS"] / 1024, "MiB")

        report.section(f"N = {njobs:,} inactive jobs")
        try:
            with controller.client() as client:
                timing = common.run_until_clean(client, [spec] * njobs)
            full_memory = controller.memory_kib()
        finally:
            stop_seconds = controller.stop()
        report.figure("filling (first submit to last clean)", timing["total_seconds"], "s")
        report.figure("RSS with N inactive jobs", full_memory["VmRSS"] / 1024, "MiB")
        report.figure("peak RSS (VmHWM) while filling", full_memory["VmHWM"] / 1024, "MiB")
        per_job = (full_memory["VmRSS"] - empty_memory["VmRSS"]) * 1024 / njobs
        report.figure("memory per inactive job", per_job, "bytes")
        report.figure("stop (SIGTERM to exit)", stop_seconds, "s")
        store = os.path.join(controller.state_dir, "corral.db")
        store_bytes = sum(os.path.getsize(store + suffix) for suffix in ("", "-wal")
                          if os.path.exists(store + suffix))
        report.figure("store size on disk", store_bytes / 2**20, "MiB")

        report.section("restart over that store")
        restart_seconds = controller.start()
        try:
            restarted_memory = controller.memory_kib()
            with controller.client() as client:
                info = client.rpc("job-manager.getinfo")
                names = common.check_lifecycle(client, timing["ids"][njobs // 2])
        finally:
            controller.stop()
        if info["inactive"] != njobs:
            raise RuntimeError(f"restart found {info['inactive']} inactive jobs, not {njobs}")
        report.figure("restart (exec to first answer)", restart_seconds, "s")
        report.figure("restart / empty start-up", restart_seconds / empty_start, "x")
        report.figure("RSS after restart", restarted_memory["VmRSS"] / 1024, "MiB")
        report.figure("jobs found after restart", info["inactive"], "",
                      f"eventlog intact ({len(names)} events)")

        report.section(f"store bytes per job: N = {njobs:,} jobs as `corral submit --cc` "
                       "sends them, then all purged")
        measure_store_per_job(report, common.Controller(work.sub("environments"), config),
                              njobs)

        report.section("targets")
        worst = max(full_memory["VmRSS"], restarted_memory["VmRSS"])
        report.target(f"controller RSS with {njobs:,} inactive jobs < 1 GiB", worst < GIB_KIB,
                      f"{worst / 1024:,.0f} MiB")
        report.target("restart < 10 s", restart_seconds < 10, f"{restart_seconds:.2f} s")
    return report.finish()


if __name__ == "__main__":
    sys.exit(common.run(main))
