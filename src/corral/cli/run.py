"""``corral run``: submit one job, stream its output, exit with its status.

Following a job survives a restart of the instance's controller, as ``srun`` survives one of
slurmctld: when the connection breaks, the command waits up to `RECONNECT_WAIT` seconds for
the instance to answer again and goes on from the byte of each stream it had printed.
"""

import errno
import functools
import os
import stat
import sys
import threading
import time

from .. import jobspec as jobspec_module
from ..client import Client, ConnectError, RPCError, connect
from ..exec import stdin
from ..waitstatus import returncode
from . import pending
from .interrupt import ReaderGone, follow
from .submit import add_job_options, build_jobspec, parse_flags, parse_urgency

_STDIN_CHUNK = 65536
_DEV_NULL = os.stat(os.devnull).st_rdev
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
    code = returncode(job.get("waitstatus"))
    if code is None:
        return 1 if job.get("result_name") != "COMPLETED" else 0
    return code


def attach(client, job_id: int, prefix: str, give_up_when_held: bool = False,
           forward_stdin: bool = False) -> int:
    """Copy the job's output to ours until its tasks are gone; return its exit status.
    While it waits to start, say why (`pending`); with ``give_up_when_held``, return
    `pending.HELD_STATUS` if the system requeues it held.  With ``forward_stdin``, our
    stdin goes to its task 0 once it started."""
    if not pending.until_started(client, job_id, prefix, give_up_when_held):
        return pending.HELD_STATUS
    if forward_stdin:
        threading.Thread(target=send_stdin, args=(client.uri, job_id), daemon=True,
                         name="corral-run-stdin").start()
    offsets = {}
    while True:
        try:
            for chunk in client.output_chunks(job_id, watch=True, offsets=offsets):
                _copy(chunk)
                if "end" in chunk:
                    offsets[chunk["stream"]] = chunk["end"]
            outcome = client.wait(job_id)
            job = client.job(job_id)
            break
        except (RPCError, ConnectionError) as exc:
            if exc.errno not in CONNECTION_LOST:
                raise
            client = reconnect(client, job_id, prefix, exc)
    if job.get("exception") is not None:
        exception = job["exception"]
        note = f": {exception['note']}" if exception.get("note") else ""
        print(f"{prefix}: job {job_id}: {exception['type']} exception{note}", file=sys.stderr)
    elif not outcome["success"]:
        print(f"{prefix}: job {job_id}: {outcome['errstr']}", file=sys.stderr)
    return exit_status(job)


def _copy(chunk: dict):
    target = sys.stdout if chunk["stream"] == "stdout" else sys.stderr
    try:
        target.write(chunk["data"])
        target.flush()
    except BrokenPipeError as exc:
        raise ReaderGone from exc


def reconnect(client, job_id: int, prefix: str, lost: OSError) -> Client:
    """A client of the same instance once it answers again; ``lost`` raised again if it does
    not within `RECONNECT_WAIT` seconds (srun follows its step with it too)."""
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


def send_stdin(uri: str, job_id: int, step: int | None = None):
    """Send our stdin to the job's (or its step's) task 0 until end of file (on a connection
    of its own: the main thread's follows the output).  A job that ended takes no more,
    which is no error."""
    where = {"id": job_id} if step is None else {"id": job_id, "step": step}
    try:
        with connect(uri) as client:
            while True:
                try:
                    data = os.read(0, _STDIN_CHUNK)
                except OSError:
                    data = b""
                client.rpc("job-exec.stdin",
                           dict(where, data=stdin.encode(data), eof=not data))
                if not data:
                    return
    except RPCError:
        return


def stdin_to_forward() -> bool:
    """Does our stdin hold anything for the job?  Not when it is closed or /dev/null; a
    terminal is forwarded, as ``flux run`` forwards it, unless we run in the background
    (``corral run ... &``: reading it would stop us with SIGTTIN)."""
    try:
        info = os.fstat(0)
    except OSError:
        return False
    if stat.S_ISCHR(info.st_mode) and info.st_rdev == _DEV_NULL:
        return False
    if os.isatty(0):
        try:
            return os.tcgetpgrp(0) == os.getpgrp()
        except OSError:
            return False
    return True


def main(args) -> int:
    forward = stdin_to_forward() and not args.jobspec
    try:
        spec = build_jobspec(args, stdin=forward)
    except jobspec_module.JobspecError as exc:
        print(f"corral run: {exc}", file=sys.stderr)
        return 1
    with connect() as client:
        job_id = client.submit(spec, urgency=parse_urgency(args.urgency),
                               flags=parse_flags(args.flags))
        return follow(client, job_id, "corral run", functools.partial(
            attach, give_up_when_held=True, forward_stdin=forward))
