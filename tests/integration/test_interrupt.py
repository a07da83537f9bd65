"""Ctrl-C and Ctrl-Z typed at a terminal while ``corral run`` or ``corral job attach`` follows
a job: the terminal driver turns ^C and ^Z into SIGINT and SIGTSTP for the command, which
must forward, cancel or detach as ``flux run`` does, never leave silently."""

import sys
import time

from corral.states import State
from support import Terminal, events, names, wait

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
    time.sleep(0.5)
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
