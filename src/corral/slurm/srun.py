"""``srun`` outside an allocation: make a job of N tasks and run it as ``corral run`` does —
its output on srun's stdout and stderr (``--label`` prefixes each line with its task), its
exit code srun's, a failed task reported as ``srun: error: HOST: task N: Exited with exit code
C``.  Inside an allocation (``SLURM_JOB_ID`` set) srun would run a job step, which corral does
not support yet: it says so and exits 1.
"""

import os
import sys

from . import options, run, submission


def _main(argv) -> int:
    if os.environ.get("SLURM_JOB_ID"):
        print(f"srun: error: job steps inside an allocation (job {os.environ['SLURM_JOB_ID']}) "
              "are not supported by corral yet", file=sys.stderr)
        return 1
    values, command = options.parse("srun", argv, options.JOB_OPTIONS + options.SRUN_ONLY)
    if not command:
        print("srun: fatal: No command given to execute.", file=sys.stderr)
        return 1
    request = submission.JobRequest(values, "task", command,
                                    os.path.basename(command[0]))
    from ..client import connect

    with connect() as client:
        job_id = submission.submit(client, request)[0]
        return attach(client, job_id, "srun")


def attach(client, job_id: int, command: str) -> int:
    """Copy the job's output to ours until it ends; its exit status, Slurm's words for an
    exception (cancelled, time limit, refused at start)."""
    from ..cli.run import exit_status

    try:
        for stream, data in client.output(job_id, watch=True):
            target = sys.stdout if stream == "stdout" else sys.stderr
            target.write(data)
            target.flush()
    except KeyboardInterrupt:
        client.cancel(job_id)
        print(f"{command}: Job step aborted", file=sys.stderr)
    client.wait_event(job_id, "clean")
    job = client.job(job_id)
    exception = job.get("exception")
    if exception is not None and exception.get("severity") == 0:
        what = {"cancel": "CANCELLED", "timeout": "DUE TO TIME LIMIT"}.get(exception["type"])
        if what == "CANCELLED":
            print(f"{command}: error: *** JOB {job_id} CANCELLED ***", file=sys.stderr)
        elif what:
            print(f"{command}: error: *** JOB {job_id} CANCELLED {what} ***", file=sys.stderr)
        else:
            note = f": {exception['note']}" if exception.get("note") else ""
            print(f"{command}: error: job {job_id}: {exception['type']}{note}", file=sys.stderr)
    return exit_status(job)


def main(argv) -> int:
    return run("srun", _main, argv)
