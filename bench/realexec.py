"""Real execution throughput: one-core ``/bin/true`` jobs against the raw spawn rate
(benchmark 2).

One node with (this machine's cores x 4) slots, or ``--slots``; N jobs submitted through the
client API and timed from the first submit to the last ``clean`` on disk.  Baselines in the
same run: the raw rate (``os.posix_spawn`` + ``waitpid``, one at a time, before and after the
run) and, to show what a Python launch costs, `subprocess.Popen` with the options the node
agent used before it spawned with ``posix_spawn`` (output into two pipes); and how fast the
state's filesystem creates files, which a job that prints something pays twice
(``/bin/true`` prints nothing, so its jobs create no file).

With the agent a process of its own, what the machine did meanwhile (`placement`): how
busy all its CPUs were, the tasks' own CPU, and how often the controller and the agent were
last seen on one CPU, which explain most of the swings from one run to the next.

Target: corral's rate >= 60% of the raw spawn rate; >= 80% where the node agent is a process
of its own (a persistent instance's, as here, since agent processes exist), whose CPU is
reported apart from the controller's.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import placement  # noqa: E402

from corral import jobspec  # noqa: E402

FLUX_REAL = 50  # jobs/s, Flux 0.88 with real `true` processes, this kind of machine


def popen_rate(count: int) -> float:
    """Processes/s with the node agent's former launch: `subprocess.Popen` in a new process
    group, fds closed, stdout and stderr into two pipes read to EOF, waited for one at a time."""
    started = time.perf_counter()
    for _ in range(count):
        ends = [os.pipe2(os.O_CLOEXEC) for _ in range(2)]
        process = subprocess.Popen(["/bin/true"], env={}, cwd="/", stdin=subprocess.DEVNULL,
                                   stdout=ends[0][1], stderr=ends[1][1], close_fds=True,
                                   process_group=0)
        for read_end, write_end in ends:
            os.close(write_end)
            while os.read(read_end, 65536):
                pass
            os.close(read_end)
        process.wait()
    return count / (time.perf_counter() - started)


def create_rate(count: int, directory: str) -> float:
    """Output files per second this filesystem creates (open O_CREAT|O_TRUNC + close), as the
    node agent does for a job's stdout and stderr on their first byte."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_TRUNC
    started = time.perf_counter()
    for index in range(count):
        os.close(os.open(os.path.join(directory, f"{index}.err"), flags, 0o644))
    return count / (time.perf_counter() - started)


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("-n", "--jobs", type=int, default=None, help="job count (2000)")
    parser.add_argument("--environment", action="store_true",
                        help="jobs carry this process's environment, as `corral submit` "
                             "copies the submitter's (default: none)")
    parser.add_argument("--slots", type=int, default=None,
                        help="the node's cores (default: this machine's cores x 4): how many "
                             "jobs may be in flight at once")
    args = parser.parse_args()
    if args.slots is not None and args.slots < 1:
        parser.error("--slots must be at least 1")
    njobs = args.jobs or (200 if args.quick else 2000)
    slots = args.slots or (os.cpu_count() or 1) * 4
    report = common.Report("realexec", args)
    spec = jobspec.build(["/bin/true"],
                         environment=dict(os.environ) if args.environment else None)

    with common.WorkDir(args, "realexec") as work:
        report.section("baselines (same run)")
        raw = common.spawn_rate(njobs)
        report.figure("raw spawn rate (posix_spawn + waitpid)", raw, "proc/s")
        popen = popen_rate(njobs)
        report.figure("Popen rate (agent's options, output pipes)", popen, "proc/s")
        creates = create_rate(2 * njobs, work.sub("create"))
        report.figure("output file creation on the state's disk", creates, "files/s",
                      "2 per job that prints")

        carrying = f", each with {len(os.environ)} environment variables" \
            if args.environment else ""
        report.section(f"N = {njobs:,} one-core /bin/true jobs{carrying}, one node, "
                       f"{slots} slots")
        config = common.write_config(work.path, [("node0", f"0-{slots - 1}")])
        controller = common.Controller(work.sub("state"), config)
        controller.start()
        try:
            agents = common.agent_pids(controller.state_dir)
            with controller.client() as client:
                cpu_before = controller.cpu_seconds()
                agent_cpu_before = sum(map(common.cpu_seconds, agents))
                seen = placement.Placement(controller.pid, agents[0]) if agents else None
                if seen is not None:
                    seen.start()
                timing = common.run_until_clean(client, [spec] * njobs)
                cpu = controller.cpu_seconds() - cpu_before
                agent_cpu = sum(map(common.cpu_seconds, agents)) - agent_cpu_before
                machine = seen.stop() if seen is not None else None
                common.check_lifecycle(client, timing["ids"][-1])
                listed = client.jobs()
                failed = [job["id"] for job in listed if job.get("result_name") != "COMPLETED"]
        finally:
            controller.stop()
        if len(listed) != njobs or failed:
            raise RuntimeError(f"{len(listed)} jobs listed, {len(failed)} did not complete, "
                               f"e.g. {failed[:5]}")
        raw_after = common.spawn_rate(njobs)
        report.figure("raw spawn rate again, after the run", raw_after, "proc/s")
        raw = (raw + raw_after) / 2
        rate = njobs / timing["total_seconds"]
        report.figure("first submit to last clean", timing["total_seconds"], "s")
        report.figure("throughput", rate, "jobs/s")
        report.figure("controller CPU per job", cpu / njobs * 1e6, "us")
        if agents:
            report.figure("node agent process CPU per job", agent_cpu / njobs * 1e6, "us")
            report.figure("the tasks' own CPU per job", machine["tasks_cpu"] / njobs * 1e6,
                          "us", "reaped by the agent")
            report.figure("CPUs busy during the run (all processes)", machine["busy"],
                          "CPUs", f"of {os.cpu_count()}")
            if machine["together"] is not None:
                report.figure("controller and agent last on the same CPU",
                              round(machine["together"] * 100), "%", "of samples every 10 ms")
        report.figure("ratio to raw spawn rate (mean of before and after)", rate / raw, "x")
        report.figure("ratio to Popen rate", rate / popen, "x")
        report.figure("ratio to Flux real execution (50/s)", rate / FLUX_REAL, "x")

        report.section("targets")
        share = 0.8 if agents else 0.6
        report.target(f"throughput >= {share:.0%} of the raw spawn rate", rate >= share * raw,
                      f"{rate / raw:.0%} ({rate:,.0f} vs {raw:,.0f} proc/s)")
    return report.finish()


if __name__ == "__main__":
    sys.exit(common.run(main))
