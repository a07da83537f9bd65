"""Ctrl-C and Ctrl-Z typed at a terminal while ``corral run`` or ``corral job attach`` follows
a job: the terminal driver turns ^C and ^Z into SIGINT and SIGTSTP for the command, which
must forward, cancel or detach as ``flux run`` does, never leave silently; and Ctrl-C or a
signal to ``corral start -- CMD``, which ends CMD, then the instance, as a shell would; and
Ctrl-C while ``corral submit --cc`` sends its jobs, after which the user knows which exist."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from corral.states import State
from support import Terminal, events, names, until, wait

# A task that says when it is ready and counts the SIGINTs it gets, and dies on SIGTERM.
COUNTING_TASK = [
    sys.executable, "-u", "-c",
    "import signal, time\n"
    "count = 0\n"
    "def got(*_):\n"
    "    global count\n"
    "    count += 1\n"
    "    print(f'task got SIGINT {count}', flush=True)\n"
    "signal.signal(signal.SIGINT, got)\n"
    "print('task ready', flush=True)\n"
    "while True:\n"
    "    time.sleep(0.1)\n",
]

INTERRUPT = b"\x03"  # ^C
SUSPEND = b"\x1a"  # ^Z


def job_of(instance, client):
    jobs = client.jobs(states=127)
    assert len(jobs) == 1
    return jobs[0]["id"]


def test_ctrl_c_on_run_forwards_sigint_and_a_second_within_2s_cancels(instance):
    terminal = Terminal(instance, "run", *COUNTING_TASK)
    try:
        terminal.read_until("task ready")
        terminal.type(INTERRUPT)
        terminal.read_until("task got SIGINT 1")
        terminal.read_until("corral run: one more ctrl-C within 2s to cancel or ctrl-Z to "
                            "detach")
        with instance.client() as client:
            job_id = job_of(instance, client)
            assert client.job(job_id)["state"] == State.RUN
        time.sleep(2.5)  # past the window: the next ^C is a first one again
        terminal.type(INTERRUPT)
        terminal.read_until("task got SIGINT 2")
        with instance.client() as client:
            assert client.job(job_id)["state"] == State.RUN
        terminal.type(INTERRUPT)  # within 2 s of the last: cancel
        status = terminal.exit_status()
        shown = terminal.output.decode(errors="replace")
        with instance.client() as client:
            # run waited for the job to end before it exited
            assert client.job(job_id)["state"] == State.INACTIVE
            exception = events(client, job_id, "exception")
        assert [e["context"]["note"] for e in exception] == ["interrupted by ctrl-C"]
        assert exception[0]["context"]["type"] == "cancel"
        assert "task got SIGINT 3" not in shown
        assert f"corral run: job {job_id}: cancel exception: interrupted by ctrl-C" in shown
        assert status == 128 + 15  # the task died of the cancel's SIGTERM
    finally:
        terminal.close()


def test_ctrl_z_detaches_attach_and_the_job_goes_on_then_ctrl_c_twice_cancels(instance):
    job_id = instance.submit(*COUNTING_TASK)
    with instance.client() as client:
        client.wait_event(job_id, "start", 10)
    terminal = Terminal(instance, "job", "attach", job_id)
    try:
        terminal.read_until("task ready")
        terminal.type(SUSPEND)
        terminal.read_until(f"corral job attach: detached; job {job_id} goes on running")
        assert terminal.exit_status() == 1
    finally:
        terminal.close()
    # Detaching sends nothing: had it cancelled or signalled the job, the request would have
    # been answered before the command exited.
    with instance.client() as client:
        assert client.job(job_id)["state"] == State.RUN
        assert names(client, job_id)[-1] == "start"

    terminal = Terminal(instance, "job", "attach", job_id)
    try:
        terminal.read_until("task ready")
        terminal.type(INTERRUPT)
        terminal.read_until("task got SIGINT 1")
        terminal.read_until("corral job attach: one more ctrl-C within 2s to cancel")
        terminal.type(INTERRUPT)
        status = terminal.exit_status()
        with instance.client() as client:
            assert client.job(job_id)["state"] == State.INACTIVE
            assert wait(client, job_id)["name"] == "clean"
            exception = events(client, job_id, "exception")
        assert [e["context"]["note"] for e in exception] == ["interrupted by ctrl-C"]
        assert status == 128 + 15
    finally:
        terminal.close()


def test_ctrl_c_on_a_pending_job_says_how_to_cancel_and_keeps_waiting(instance):
    instance.corral("queue", "stop")
    terminal = Terminal(instance, "run", "true")
    try:
        with instance.client() as client:
            job_id = None
            deadline = time.monotonic() + 10
            while job_id is None and time.monotonic() < deadline:
                found = client.jobs()
                job_id = found[0]["id"] if found else None
                time.sleep(0.05)
            client.wait_event(job_id, "priority", 10)
        time.sleep(0.3)  # the command is following the job
        terminal.type(INTERRUPT)
        terminal.read_until("corral run: one more ctrl-C within 2s to cancel")
        with instance.client() as client:
            assert client.job(job_id)["state"] == State.SCHED
        instance.corral("queue", "start")
        assert terminal.exit_status() == 0
    finally:
        terminal.close()


# The command of `corral start`: it submits a job that will not end by itself, says where the
# instance keeps its state, and sleeps with SIGINT's default action (no traceback).
START_COMMAND = [
    sys.executable, "-c",
    "import os, signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
    "subprocess.run([sys.executable, '-m', 'corral', 'submit', 'sleep', '100'], check=True,\n"
    "               stdout=subprocess.DEVNULL)\n"
    "print('state in', os.path.dirname(os.environ['CORRAL_URI'][len('local://'):]),\n"
    "      flush=True)\n"
    "time.sleep(100)\n",
]
LOST = ("corral start: interrupted; 1 unfinished job is lost with the instance's temporary "
        "state (--state-dir keeps jobs)")


def test_ctrl_c_in_start_ends_its_command_and_stops_the_instance_with_130():
    terminal = Terminal(None, "start", "--test-size=1", "--agents=in-process", "--",
                        *START_COMMAND)
    try:
        terminal.read_until("state in ", timeout=60)
        terminal.type(INTERRUPT)
        assert terminal.exit_status() == 130
        shown = terminal.output.decode(errors="replace")
    finally:
        terminal.close()
    assert LOST in shown
    state_dir = shown.split("state in ", 1)[1].split()[0]
    assert not os.path.exists(state_dir)  # stopped cleanly: its temporary state removed


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_start_goes_to_its_command_and_all_it_runs(signum):
    script = 'corral submit sleep 100 >/dev/null; echo "group $$"; sleep 100; echo not ended'
    environment = {key: value for key, value in os.environ.items() if key != "CORRAL_URI"}
    start = subprocess.Popen(
        [sys.executable, "-m", "corral", "start", "--test-size=1", "--agents=in-process",
         "--", "sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=environment, start_new_session=True)
    try:
        group = int(start.stdout.readline().split()[1])
        # Once sh runs its sleep: a signal sh gets while it forks would pass the sleep by,
        # as it would in any shell.
        until(lambda: "sleep" in _group_commands(group))
        start.send_signal(signum)
        out, err = start.communicate(timeout=60)
    finally:
        start.kill()
    assert (start.returncode, out, err) == (128 + signum, "", LOST + "\n")
    until(lambda: not _alive(group))  # sh's sleep got it too (and init reaped it)


def _group_commands(group: int) -> list[str]:
    """The command names of the processes in process group ``group``."""
    names = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read()
        except (FileNotFoundError, ProcessLookupError):  # it ended meanwhile
            continue
        name, rest = fields[fields.index("(") + 1:fields.rindex(")")], fields.split(") ", 1)[1]
        if int(rest.split()[2]) == group:
            names.append(name)
    return names


def _alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


# Twenty requests of 1,024 jobs, eight in flight: a bar showing some answered means more are
# sent and more are to send.
MANY_COPIES = 20000
SOME_ANSWERED = r"submit \[[=> ]*\] ([1-9]\d*)/20000 jobs"


def _interrupted_submit(instance, *waits_between) -> tuple[int, int, str]:
    """``corral submit --cc`` of `MANY_COPIES` held jobs on a terminal, Ctrl-C typed once the
    bar shows some answered, then again after each text of ``waits_between``; the number
    the bar showed, the exit status and what the terminal showed."""
    terminal = Terminal(instance, "submit", f"--cc=1-{MANY_COPIES}", "--urgency=hold", "true")
    try:
        answered = int(terminal.read_until_match(SOME_ANSWERED).group(1))
        terminal.type(INTERRUPT)
        for text in waits_between:
            terminal.read_until(text)
            terminal.type(INTERRUPT)
        status = terminal.exit_status()
    finally:
        terminal.close()
    return answered, status, terminal.output.decode(errors="replace")


def test_ctrl_c_in_submit_cc_stops_sending_and_prints_every_job_submitted(instance):
    answered, status, shown = _interrupted_submit(instance)
    assert status == 130, shown
    assert "corral submit: interrupted: waiting for the answers to the requests already sent" \
        in shown
    printed = [int(text) for text in re.findall(r"^(\d+)\r?$", shown, re.MULTILINE)]
    with instance.client() as client:
        existing = [job["id"] for job in client.jobs(states=127)]
    # Every job that exists was printed, once; the requests not yet sent were not.
    assert sorted(printed) == sorted(existing)
    assert answered <= len(printed) < MANY_COPIES
    assert (f"corral submit: interrupted: {len(printed)} of {MANY_COPIES} jobs submitted "
            f"(their ids above), the other {MANY_COPIES - len(printed)} not sent") in shown


def test_a_second_ctrl_c_in_submit_cc_leaves_at_once_and_says_what_may_exist(instance):
    _answered, status, shown = _interrupted_submit(instance, "ctrl-C again to leave now")
    assert status == 130, shown
    assert ("corral submit: left before every answer came: jobs may have been submitted whose "
            "ids were not printed (corral jobs lists them)") in shown
    assert "Traceback" not in shown
