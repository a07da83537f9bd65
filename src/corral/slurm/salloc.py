"""``salloc``: get an allocation, run a command (default: the user's shell) with its
``SLURM_*`` environment, then give the allocation back.

As in Slurm, the command runs here, where salloc runs, not on the allocated nodes: the
allocation is a corral job whose one task holds the resources until salloc ends it.  If the
job ends first (time limit, scancel), the command is sent SIGHUP, as Slurm does.  Ctrl-C
while the allocation is pending withdraws it; while the command runs, salloc ignores it (the
command, in the same foreground process group, gets it) and gives the allocation back only
when the command exits, as Slurm's salloc does.
"""

import os
import signal
import subprocess
import sys
import threading

from . import jobstart, options, run, submission


def _main(argv) -> int:
    values, command = options.parse("salloc", argv, options.JOB_OPTIONS)
    if not command:
        command = [os.environ.get("SHELL", "/bin/sh")]
    request = submission.JobRequest(values, "allocation", [], "interactive")
    from ..client import connect

    with connect() as client:
        job_id = submission.submit(client, request)[0]
        print(f"salloc: Pending job allocation {job_id}", file=sys.stderr, flush=True)
        if not _granted(client, job_id):
            return 1
        print(f"salloc: Granted job allocation {job_id}", file=sys.stderr, flush=True)
        # A handler that does nothing, not SIG_IGN: the command must not inherit it.
        signal.signal(signal.SIGINT, lambda _signum, _frame: None)
        try:
            status = _run_command(client, job_id, command)
        finally:
            print(f"salloc: Relinquishing job allocation {job_id}", file=sys.stderr, flush=True)
            try:
                client.kill(job_id, signal.SIGTERM)
            except OSError:
                pass
    return status if status >= 0 else 128 - status


def _granted(client, job_id) -> bool:
    """Wait for the allocation to start; False (said) if it ended first or Ctrl-C came,
    which cancels it, as Slurm's salloc withdraws a pending request."""
    from ..client import connect

    try:
        client.wait_event(job_id, "start")
    except KeyboardInterrupt:
        with connect(client.uri) as other:  # (the interrupted stream is left unread)
            other.cancel(job_id)
        print(f"salloc: Job allocation {job_id} has been revoked.\n"
              "salloc: Job aborted due to signal", file=sys.stderr)
        return False
    except OSError:
        print(f"salloc: error: Job allocation {job_id} has been revoked.", file=sys.stderr)
        return False
    return True


def _run_command(client, job_id, command) -> int:
    """Run the command with the allocation's environment; its wait status (1, said, when
    it cannot be executed, as Slurm's salloc exits)."""
    answer = client.job_info(job_id, "jobspec", "R")
    jobspec = answer["jobspec"]
    env = dict(jobspec["attributes"]["system"].get("environment", {}))
    start, _node = jobstart.start_environment(jobspec, answer["R"], job_id, 0,
                                              {"kind": "allocation"})
    env.update(start)
    try:
        child = subprocess.Popen(command, env=env)
    except OSError:
        print(f'salloc: error: Unable to exec command "{command[0]}"', file=sys.stderr)
        return 1
    threading.Thread(target=_revoke_when_over, args=(client.uri, job_id, child),
                     daemon=True).start()
    return child.wait()


def _revoke_when_over(uri, job_id, child):
    """The allocation ended before the command: hang the command up."""
    from ..client import connect

    with connect(uri) as client:
        try:
            client.wait_event(job_id, "finish")
        except OSError:
            pass
    if child.poll() is None:
        print(f"salloc: Job allocation {job_id} has been revoked.", file=sys.stderr, flush=True)
        child.send_signal(signal.SIGHUP)


def main(argv) -> int:
    return run("salloc", _main, argv)
