"""Latency of one job from the command line, against bare interpreter start-up (benchmark 3).

Median and p95 of ``corral submit true`` and ``corral run true`` (the installed console
script), of ``squeue -t all``, ``sbatch -H -o /dev/null --wrap true``, ``sacct`` and
``scancel --me -t PD`` (which cancels that held job) from ``corral slurm path`` (tools poll
squeue once a second), of the same interpreter's ``-c pass`` (the floor any Python command
stands on) and of ``-c 'import corral.cli'`` (what the CLI's imports add), run in turn, one
of each per round, against an instance with this machine's own cores: commands measured in
turn see the same load on a shared machine.  Each command's own CPU time (user + system) is
reported beside its wall-clock time, as it hardly depends on the load.  Inside the
controller: submit-to-start, from the eventlog timestamps of the jobs that ``corral submit``
and ``corral run`` made.

Targets: ``corral submit`` and every Slurm command's median within 40 ms of bare interpreter
start-up; submit-to-start median under 5 ms.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

FLUX_RUN = 0.140  # seconds, `flux run true` with Flux 0.88 on this kind of machine
#: The Slurm commands timed, in this order, as run from ``corral slurm path``: the batch job
#: is held, so that no in-job helper runs beside the next commands, and scancel cancels it.
SLURM_COMMANDS = [("squeue", "-t", "all"), ("sbatch", "-H", "-o", "/dev/null", "--wrap", "true"),
                  ("sacct",), ("scancel", "--me", "-t", "PD")]


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

            slurm_bin = subprocess.run([*common.CORRAL, "slurm", "path"], env=env, check=True,
                                       capture_output=True, text=True).stdout.strip()
            commands = {
                f"{os.path.basename(python)} -c pass": [python, "-c", "pass"],
                "python -c 'import corral.cli'": [python, "-c", "import corral.cli"],
                "corral submit true": [*common.CORRAL, "submit", "true"],
                "corral run true": [*common.CORRAL, "run", "true"],
                **{" ".join(argv): [os.path.join(slurm_bin, argv[0]), *argv[1:]]
                   for argv in SLURM_COMMANDS},
            }
            with controller.client() as client:
                first_id = client.rpc("job-manager.getinfo")["max_jobid"] + 1
            times = common.interleaved_times(commands, repeat, env)
            with controller.client() as client:
                client.rpc("job-manager.queue-drain")
                last_id = client.rpc("job-manager.getinfo")["max_jobid"]
                made = [job["id"] for job in client.jobs(states=64, userid=-1)
                        if first_id <= job["id"] <= last_id and job.get("name") == "true"]
                to_start = event_delays(client, made, "submit", "start")
                to_alloc = event_delays(client, made, "submit", "alloc")
                start_to_clean = event_delays(client, made, "start", "clean")
        finally:
            controller.stop()

        bare_label = next(iter(commands))
        bare_wall, bare_cpu = (common.median(values) for values in times[bare_label])
        report.section(f"in turn, one of each per round ({repeat} rounds); "
                       "CPU: the command's own, user + system")
        gaps = {}
        for label, (wall, cpu) in times.items():
            report.figure(f"{label}: median", common.median(wall) * 1e3, "ms")
            report.figure("  p95", common.p95(wall) * 1e3, "ms")
            report.figure("  CPU median", common.median(cpu) * 1e3, "ms")
            if label != bare_label:
                gaps[label] = (common.median(wall) - bare_wall) * 1e3
                report.figure("  median minus bare start-up", gaps[label], "ms")
                report.figure("  CPU median minus bare start-up's",
                              (common.median(cpu) - bare_cpu) * 1e3, "ms")
        report.figure("corral run true / flux run true (140 ms)",
                      common.median(times["corral run true"][0]) / FLUX_RUN, "x")

        report.section("inside the controller (eventlog timestamps of the submitted jobs)")
        report.figure("submit -> alloc: median", common.median(to_alloc) * 1e3, "ms")
        report.figure("submit -> start: median", common.median(to_start) * 1e3, "ms")
        report.figure("  p95", common.p95(to_start) * 1e3, "ms")
        report.figure("start -> clean: median", common.median(start_to_clean) * 1e3, "ms")

        report.section("targets")
        for label in ("corral submit true", *(" ".join(argv) for argv in SLURM_COMMANDS)):
            report.target(f"{label} median within 40 ms of bare start-up", gaps[label] <= 40,
                          f"+{gaps[label]:.1f} ms")
        to_start_ms = common.median(to_start) * 1e3
        report.target("submit-to-start median < 5 ms", to_start_ms < 5, f"{to_start_ms:.2f} ms")
    return report.finish()


if __name__ == "__main__":
    sys.exit(common.run(main))
