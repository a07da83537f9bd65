"""The command of ``corral start -- CMD`` (Flux's initial program): run it with ``CORRAL_URI``,
serve while it runs, and end with its exit status.

SIGTERM and SIGINT sent to ``corral start`` go to the command, which decides what they mean
(an interactive shell ignores SIGINT and the session goes on); the instance stops once the
command has exited.  In the foreground of a terminal the command shares ``corral start``'s
process group, as a shell's job does, so that it can read the terminal; a Ctrl-C, which the
terminal sends to the whole group, has reached it already and is not sent again.  Elsewhere
(a service manager, ``&``, a batch script) the command leads a process group of its own and
a signal goes to the whole group, so that a ``sh -c 'a | b'`` is stopped with all it runs.
The exit status is the command's as a shell reports it, 128+N when signal N ended it (130
for Ctrl-C).  When a signal ended the command (it died of one, or exited with more than 128,
as a shell does then) while jobs were unfinished, one line says what the stop costs them:
with a temporary state directory they are lost, with a kept one the running ones end (unless
their tasks outlive the controller).  A kill aimed at a ``corral start`` in the foreground of
a terminal, from elsewhere, is sent on too, except SIGINT: it cannot be told from Ctrl-C.
"""

import asyncio
import os
import signal
import sys

#: The signals that stop an instance, and that are the command's to handle when there is one.
TERMINATION = (signal.SIGTERM, signal.SIGINT)


async def run(instance, command: list[str]) -> int:
    """Run ``command`` until it exits (or the instance stops by itself); its exit status.
    OSError if it cannot be started."""
    process = None
    signalled = False
    foreground = _in_the_terminal_foreground()

    def on_signal(signum):
        nonlocal signalled
        signalled = True
        if process is None:  # not started yet: nothing to hand the signal to
            instance.request_stop()
        elif process.returncode is not None:
            pass
        elif not foreground:
            os.killpg(process.pid, signum)
        elif signum != signal.SIGINT:
            process.send_signal(signum)

    instance.watchdog.handle_termination(TERMINATION, on_signal)
    process = await asyncio.create_subprocess_exec(
        *command, env=dict(os.environ, CORRAL_URI=instance.uri),
        process_group=None if foreground else 0)
    waiter = asyncio.ensure_future(process.wait())
    await asyncio.wait([waiter, instance.stopped], return_when=asyncio.FIRST_COMPLETED)
    if not waiter.done():  # the instance stops by itself (its store failed)
        process.terminate()
        await waiter
        return 128 + signal.SIGTERM
    returncode = waiter.result()
    status = 128 - returncode if returncode < 0 else returncode
    if signalled and status > 128:  # the signal ended it (a shell exits 128+N then too)
        _say_what_is_lost(instance)
    return status


def _in_the_terminal_foreground() -> bool:
    """Whether this process is in the foreground process group of its controlling
    terminal, the group the terminal sends Ctrl-C to."""
    try:
        terminal = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:  # no controlling terminal
        return False
    try:
        return os.tcgetpgrp(terminal) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(terminal)


def _say_what_is_lost(instance):
    if instance.temporary_state_dir:
        count, what = len(instance.manager.active), "unfinished"
        fate = "lost with the instance's temporary state (--state-dir keeps jobs)"
    elif not instance.tasks_outlive:
        count, what, fate = instance.manager.running, "running", "ended by the stop"
    else:
        return
    if count:
        jobs = "job is" if count == 1 else "jobs are"
        print(f"corral start: interrupted; {count} {what} {jobs} {fate}", file=sys.stderr,
              flush=True)
