"""Ctrl-C and Ctrl-Z while a command follows one job (``corral run``, ``corral job attach``),
as ``flux run`` and ``flux job attach`` handle them.

The first Ctrl-C (SIGINT) is sent on to the job's tasks, and the command says that one more
within 2 s cancels the job; a second within those 2 s cancels it (``interrupted by
ctrl-C``) and the command goes on following the job until it has ended, so it still reports
how the job ended.  Ctrl-Z (SIGTSTP) stops following: the command says that the job goes on
running and exits, leaving the job alone.  When the instance goes away while the command
follows the job and does not come back within the wait ``attach`` allows (a controller that
restarts does), the command says in one line that the job may run on, and how to follow it
again, and exits 1.

The signal and cancel requests go over a connection of their own: a handler runs between
two steps of whatever the command's connection is doing, which must not see a stray frame.

A command that submits many jobs (``corral submit --cc``, ``sbatch --array``) sends them
in requests of many jobs, several in flight: Ctrl-C there (`Interrupted`) stops it from
sending more, and the command waits for the answers to those already sent, so that it can
say which jobs exist; a second Ctrl-C leaves at once.
"""

import errno
import signal
import sys
import time

from ..client import RPCError, connect


class ReaderGone(Exception):
    """Writing the job's output failed because whoever reads ours went away (``| head``): the
    command ends as on any broken pipe, which must not pass for the instance going away.  Its
    ``__cause__`` is the `BrokenPipeError`."""


#: A second Ctrl-C within this many seconds of the first cancels the job.
CANCEL_WINDOW = 2.0
CANCEL_NOTE = "interrupted by ctrl-C"
#: ``corral job attach`` exits with this after Ctrl-Z, as ``flux job attach`` does when it
#: detaches before the job finished.
DETACHED_STATUS = 1


class _Detached(Exception):
    """Ctrl-Z: stop following the job."""


def follow(client, job_id: int, prefix: str, attach) -> int:
    """Run ``attach(client, job_id, prefix)`` (which follows the job and returns its exit
    status) with Ctrl-C and Ctrl-Z handled as this module says."""
    first_interrupt = None
    busy = False

    def on_interrupt(_signum, _frame):
        nonlocal first_interrupt, busy
        if busy:  # a Ctrl-C while the previous one is still being sent
            return
        busy = True
        try:
            now = time.monotonic()
            if first_interrupt is not None and now - first_interrupt <= CANCEL_WINDOW:
                _request(client.uri, prefix, "cancel",
                         lambda other: other.cancel(job_id, CANCEL_NOTE))
                return
            _request(client.uri, prefix, "kill",
                     lambda other: other.kill(job_id, signal.SIGINT))
            print(f"{prefix}: one more ctrl-C within {CANCEL_WINDOW:g}s to cancel or ctrl-Z "
                  "to detach", file=sys.stderr, flush=True)
            # The window opens when the user is told of it, not before a slow instance
            # answered the kill.
            first_interrupt = time.monotonic()
        finally:
            busy = False

    def on_stop(_signum, _frame):
        raise _Detached

    previous = {signal.SIGINT: signal.signal(signal.SIGINT, on_interrupt),
                signal.SIGTSTP: signal.signal(signal.SIGTSTP, on_stop)}
    try:
        return attach(client, job_id, prefix)
    except ReaderGone as gone:
        raise gone.__cause__ from None
    except (RPCError, ConnectionError) as exc:
        if exc.errno not in (errno.ECONNRESET, errno.EPIPE):
            raise
        print(f"{prefix}: lost the instance at {client.uri}; job {job_id} may run on "
              f"(corral job attach {job_id} to follow it again once the instance is back)",
              file=sys.stderr, flush=True)
        return 1
    except _Detached:
        print(f"{prefix}: detached; job {job_id} goes on running "
              f"(corral job attach {job_id} to follow it again)", file=sys.stderr, flush=True)
        return DETACHED_STATUS
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _request(uri: str, prefix: str, what: str, call):
    """Make one request on a connection of its own; a job that is not running (yet, or any
    more) is not an error for a Ctrl-C."""
    try:
        with connect(uri) as other:
            call(other)
    except RPCError as exc:
        if exc.errno != errno.EINVAL:
            print(f"{prefix}: {what}: {exc.strerror or exc}", file=sys.stderr, flush=True)


class Interrupted:
    """While in use (a context manager), the first Ctrl-C only makes the object true when
    called (`seen`) and tells the user that one more leaves at once, which raises
    `KeyboardInterrupt` where the command then is."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.seen = False
        self._previous = None

    def __call__(self) -> bool:
        return self.seen

    def _on_interrupt(self, _signum, _frame):
        if self.seen:
            print(f"\n{self.prefix}: left before every answer came: jobs may have been "
                  "submitted whose ids were not printed (corral jobs lists them)",
                  file=sys.stderr, flush=True)
            raise KeyboardInterrupt
        self.seen = True
        print(f"\n{self.prefix}: interrupted: waiting for the answers to the requests already "
              "sent (ctrl-C again to leave now)", file=sys.stderr, flush=True)

    def __enter__(self):
        self._previous = signal.signal(signal.SIGINT, self._on_interrupt)
        return self

    def __exit__(self, *exc_info):
        signal.signal(signal.SIGINT, self._previous)
