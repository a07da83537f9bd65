"""Controller restart with running jobs: ``kill -9`` of a persistent instance's controller
while N jobs run on its local agent process, then the time until the next controller has
taken every one of them back.

One node with N slots (more than the machine has cores: ``sleep`` tasks only wait), N
``sleep`` jobs, all running when the controller is killed.  Timed from the new ``corral
start`` to: the instance answering (its jobs reloaded, its agent registered), and the agent's
``held`` applied (``rank 0 holds N of the N jobs taken back there`` in its log), so
that every job is known to be running again.  Then every job must end COMPLETED, with no
exception, once its ``sleep`` is over.  Baseline in the same run: the same ``kill -9`` and
restart once every job has ended (the same store, nothing to take back).
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

from corral import jobspec  # noqa: E402

#: Seconds each job sleeps: long enough to outlast the restart, short enough to wait for.
SLEEP = 30


def wait_started(client, ids, timeout: float = 300):
    """Until every job has its ``start`` (its tasks run), not only its allocation."""
    deadline = time.monotonic() + timeout
    waiting = list(ids)
    while waiting:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(waiting)} jobs not started within {timeout} s")
        waiting = [job for job in waiting
                   if not any(event["name"] == "start" for event in client.eventlog(job))]
        time.sleep(0.2)


def kill_controller(controller):
    """kill -9, and remove the socket it leaves."""
    controller.process.send_signal(signal.SIGKILL)
    controller.process.wait()
    controller.process = None
    os.unlink(os.path.join(controller.state_dir, "local.sock"))


def measure(controller, report, spec, njobs: int) -> list[int]:
    """The restart figures; the ids of the jobs that did not end COMPLETED."""
    controller.start()
    with controller.client() as client:
        ids = client.submit_many([spec] * njobs)
        wait_started(client, ids)
    report.section(f"kill -9 of the controller with {njobs:,} running jobs, restart")
    kill_controller(controller)
    started = time.perf_counter()
    serving = controller.start()
    marker = f"rank 0 holds {njobs} of the {njobs} jobs taken back there"
    with controller.client() as client:
        while not any(marker in line for line in client.rpc("log.dmesg")["lines"]):
            if time.perf_counter() - started > 120:
                raise RuntimeError("the jobs were not all taken back:\n" + controller.log())
            time.sleep(0.005)
    reattached = time.perf_counter() - started
    report.figure("new controller answering (jobs reloaded, agent registered)", serving, "s")
    report.figure(f"all {njobs:,} jobs taken back", reattached, "s")
    with controller.client() as client:
        client.rpc("job-manager.queue-drain")
        listed = {job["id"]: job for job in client.jobs()}
    failed = [job_id for job_id in ids if listed[job_id].get("result_name") != "COMPLETED"]
    report.figure("jobs that ended COMPLETED after the restart", njobs - len(failed), "jobs")
    # Baseline, the same minute: the same restart with nothing running (the same store, its
    # jobs now inactive).
    kill_controller(controller)
    idle = controller.start()
    report.figure("baseline: the same restart with no job running", idle, "s")
    report.figure("ratio of taking every job back to the baseline", reattached / idle, "x")
    return failed


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("-n", "--jobs", type=int, default=None, help="job count (1000)")
    args = parser.parse_args()
    njobs = args.jobs or (100 if args.quick else 1000)
    report = common.Report("reattach", args)
    spec = jobspec.build(["sleep", str(SLEEP)])
    with common.WorkDir(args, "reattach") as work:
        config = common.write_config(work.path, [("node0", f"0-{njobs - 1}")])
        controller = common.Controller(work.sub("state"), config)
        try:
            failed = measure(controller, report, spec, njobs)
        finally:
            controller.stop()
            for pid in common.agent_pids(controller.state_dir):  # left with running jobs
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        report.section("targets")
        report.target("every job taken back and COMPLETED", not failed,
                      f"{njobs - len(failed):,} of {njobs:,} jobs")
    return report.finish()


if __name__ == "__main__":
    sys.exit(common.run(main))
