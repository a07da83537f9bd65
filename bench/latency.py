"""Latency of one job from the command line, against bare interpreter start-up (benchmark 3).

Median and p95 of ``corral submit true`` and ``corral run true`` (the installed console
script, run one after another against an instance with this machine's own cores), of the
same interpreter's ``-c pass`` (the floor any Python command stands on) and of
``-c 'import corral.cli'`` (what the command's imports add), all in the same run; and of
``squeue`` from ``corral slurm path`` (tools poll it once a second) with the instance's jobs
listed.  Inside the
controller: submit-to-start, from the eventlog timestamps of the submitted jobs.

Targets: ``corral submit`` and ``squeue`` medians within 40 ms of bare interpreter
start-up; submit-to-start median under 5 ms.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

FLUX_RUN = 0.140  # seconds, `flux run true` with Flux 0.88 on this kind of machine


def event_delays(client, job_ids, first: str, last: str) -> list[float]:
    """Seconds from event ``first`` to event ``last`` in each job's eventlog."""
    delays = []
    for job_id in job_ids:
        stamps = {event["name"]: event["timestamp"] for event in client.eventlog(job_id)}
        delays.append(stamps[last] - stamps[first])
    return delays


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("-r", "--repeat", type=int, default=None, help="runs of each (50)")
    args = parser.parse_args()
    repeat = args.repeat or (5 if args.quick else 50)
    report = common.Report("latency", args)
    python = sys.executable

    with common.WorkDir(args, "latency") as work:
        controller = common.Controller(work.sub("state"))
        controller.start()
        try:
            env = controller.env()
            # Warm the page cache and the controller before timing anything.
            common.command_times([*common.CORRAL, "submit", "true"], 3, env)
            common.command_times([python, "-c", "pass"], 3)

            report.section(f"baselines (same run, {repeat} runs each)")
            bare = common.command_times([python, "-c", "pass"], repeat)
            imports = common.command_times([python, "-c", "import corral.cli"], repeat)
            report.figure(f"{os.path.basename(python)} -c pass: median", common.median(bare) * 1e3,
                          "ms")
            report.figure("  p95", common.p95(bare) * 1e3, "ms")
            report.figure("python -c 'import corral.cli': median", common.median(imports) * 1e3,
                          "ms")

            report.section(f"corral commands ({repeat} runs each)")
            with controller.client() as client:
                first_id = client.rpc("job-manager.getinfo")["max_jobid"] + 1
            submit = common.command_times([*common.CORRAL, "submit", "true"], repeat, env)
            with controller.client() as client:
                last_id = client.rpc("job-manager.getinfo")["max_jobid"]
            run = common.command_times([*common.CORRAL, "run", "true"], repeat, env)
            slurm_bin = subprocess.run([*common.CORRAL, "slurm", "path"], env=env, check=True,
                                       capture_output=True, text=True).stdout.strip()
            squeue = common.command_times([os.path.join(slurm_bin, "squeue"), "-t", "all"],
                                          repeat, env)
            with controller.client() as client:
                client.rpc("job-manager.queue-drain")
                submitted = range(first_id, last_id + 1)
                to_start = event_delays(client, submitted, "submit", "start")
                to_alloc = event_delays(client, submitted, "submit", "alloc")
                start_to_clean = event_delays(client, submitted, "start", "clean")
        finally:
            controller.stop()

        bare_median = common.median(bare)
        for label, times in (("corral submit true", submit), ("corral run true", run),
                             ("squeue -t all", squeue)):
            report.figure(f"{label}: median", common.median(times) * 1e3, "ms")
            report.figure("  p95", common.p95(times) * 1e3, "ms")
            report.figure("  median minus bare start-up", (common.median(times) - bare_median)
                          * 1e3, "ms")
        report.figure("corral run true / flux run true (140 ms)", common.median(run) / FLUX_RUN,
                      "x")

        report.section("inside the controller (eventlog timestamps of the submitted jobs)")
        report.figure("submit -> alloc: median", common.median(to_alloc) * 1e3, "ms")
        report.figure("submit -> start: median", common.median(to_start) * 1e3, "ms")
        report.figure("  p95", common.p95(to_start) * 1e3, "ms")
        report.figure("start -> clean: median", common.median(start_to_clean) * 1e3, "ms")

        report.section("targets")
        gap = (common.median(submit) - bare_median) * 1e3
        report.target("corral submit median within 40 ms of bare start-up", gap <= 40,
                      f"+{gap:.1f} ms")
        squeue_gap = (common.median(squeue) - bare_median) * 1e3
        report.target("squeue median within 40 ms of bare start-up", squeue_gap <= 40,
                      f"+{squeue_gap:.1f} ms")
        to_start_ms = common.median(to_start) * 1e3
        report.target("submit-to-start median < 5 ms", to_start_ms < 5, f"{to_start_ms:.2f} ms")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
