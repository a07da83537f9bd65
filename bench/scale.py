"""Scale of one instance: memory with N inactive jobs kept, and restart over that store
(benchmark 4).

A fresh instance (1,024 configured cores) runs N simulated jobs to completion; its resident
memory is read from ``/proc/<pid>/status``, then it is stopped (SIGTERM) and started again on
the same state directory, timed from exec to the first answer, and its memory read again.
Baselines in the same run: the start-up time and memory of the same instance while empty.

Targets (N = 100,000): controller RSS < 1 GiB; restart < 10 s.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

from corral import jobspec  # noqa: E402

GIB_KIB = 2**20


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

        report.section("targets")
        worst = max(full_memory["VmRSS"], restarted_memory["VmRSS"])
        report.target(f"controller RSS with {njobs:,} inactive jobs < 1 GiB", worst < GIB_KIB,
                      f"{worst / 1024:,.0f} MiB")
        report.target("restart < 10 s", restart_seconds < 10, f"{restart_seconds:.2f} s")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
