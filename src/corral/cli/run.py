"""``corral run``: submit one job, stream its output, exit with its status.

Following a job survives a restart of the instance's controller, as ``srun`` survives one of
slurmctld: when the connection breaks, the command waits up to `RECONNECT_WAIT` seconds for
the instance to answer again and goes on from the byte of each stream it had printed.
"""

import errno
import os
import sys
import time

from .. import jobspec as jobspec_module
from ..client import Client, ConnectError, RPCError, connect
from .interrupt import follow
from .submit import add_job_options, build_jobspec, parse_flags, parse_urgency

#: Seconds to wait for an instance whose connection broke to answer again.
RECONNECT_WAIT = 60.0
#: Seconds between two attempts to reach it.
RECONNECT_INTERVAL = 0.2
#: Errors that mean the connection broke (the controller stopped or was killed).
CONNECTION_LOST = (errno.ECONNRESET, errno.EPIPE)


def register(subparsers):
    parser = subparsers.add_parser("run", help="run a job and wait for it")
    add_job_options(parser)
    parser.set_defaults(func=main)


def exit_status(job: dict) -> int:
    """The job's exit code as a shell reports it (128+N for signal N); 1 if it never ran."""
    status = job.get("waitstatus")
    if status is None:
        return 1 if job.get("result_name") != "COMPLETED" else 0
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def attach(client, job_id: int, prefix: str) -> int:
    """Copy the job's output to ours until its tasks are gone; return its exit status."""
    offsets = {}
    while True:
        try:
            for chunk in client.output_chunks(job_id, watch=True, offsets=offsets):
                target = sys.stdout if chunk["stream"] == "stdout" else sys.stderr
                target.write(chunk["data"])
                target.flush()
                if "end" in chunk:
                    offsets[chunk["stream"]] = chunk["end"]
            outcome = client.wait(job_id)
            job = client.job(job_id)
            break
        except (RPCError, ConnectionError) as exc:
            if exc.errno not in CONNECTION_LOST:
                raise
            client = _reconnect(client, job_id, prefix, exc)
    if job.get("exception") is not None:
        exception = job["exception"]
        note = f": {exception['note']}" if exception.get("note") else ""
        print(f"{prefix}: job {job_id}: {exception['type']} exception{note}", file=sys.stderr)
    elif not outcome["success"]:
        print(f"{prefix}: job {job_id}: {outcome['errstr']}", file=sys.stderr)
    return exit_status(job)


def _reconnect(client, job_id: int, prefix: str, lost: OSError) -> Client:
    """A client of the same instance once it answers again; ``lost`` raised again if it does
    not within `RECONNECT_WAIT` seconds."""
    client.close()
    print(f"{prefix}: lost the instance at {client.uri}; waiting for it to come back to "
          f"follow job {job_id} on", file=sys.stderr, flush=True)
    deadline = time.monotonic() + RECONNECT_WAIT
    while time.monotonic() < deadline:
        time.sleep(RECONNECT_INTERVAL)
        try:
            again = Client(client.uri)
        except ConnectError:
            continue
        try:
            again.rpc("instance.info")
            return again
        except (RPCError, ConnectionError):
            again.close()
    raise lost


def main(args) -> int:
    try:
        spec = build_jobspec(args)
    except jobspec_module.JobspecError as exc:
        print(f"corral run: {exc}", file=sys.stderr)
        return 1
    with connect() as client:
        job_id = client.submit(spec, urgency=parse_urgency(args.urgency),
                               flags=parse_flags(args.flags))
        return follow(client, job_id, "corral run", attach)
