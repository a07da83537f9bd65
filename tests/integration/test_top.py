"""``corral top`` in a real terminal: tmux (a terminal emulator, ISC licence) runs it on a
pseudo-terminal of a given size, keys are typed with ``send-keys`` and the screen is read
back with ``capture-pane``, against a real instance running real jobs."""

import contextlib
import io
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from corral import cli, jobspec
from support import as_guest, guest_user

SIMULATED = "--setattr=exec.test.run_duration=0"

if shutil.which("tmux") is None:  # .ci/run installs it
    pytest.fail("the corral top tests need tmux (apt-get install tmux)", pytrace=False)


class Screen:
    """``corral top ARGS`` in a detached tmux session ``width`` x ``height``; after it exits
    the pane says ``exited STATUS``."""

    def __init__(self, instance, *args, width=130, height=40):
        self.socket = f"corral-top-{uuid.uuid4().hex[:8]}"
        command = " ".join([sys.executable, "-m", "corral", "top", *args])
        self._tmux("new-session", "-d", "-s", "top", "-x", str(width), "-y", str(height),
                   f"{command}; echo exited $?; sleep 600", env=instance.env())

    def _tmux(self, *args, env=None) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, env=env,
                              capture_output=True, text=True, timeout=10).stdout

    def text(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "top")

    def keys(self, *keys):
        self._tmux("send-keys", "-t", "top", *keys)

    def wait_for(self, check, what: str, timeout=20.0) -> str:
        """The screen once ``check(screen text)`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.text()
            if check(shown):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed {what}; it shows:\n{shown}")
            time.sleep(0.1)

    def wait_text(self, text: str, timeout=20.0) -> str:
        return self.wait_for(lambda shown: text in shown, repr(text), timeout)

    def close(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def job_rows(shown: str) -> list[list[str]]:
    """The job table's rows, split in words: those after the JOBID header line."""
    lines = shown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == ["JOBID"])
    rows = []
    for line in lines[start + 1:]:
        words = line.split()
        if not words or not words[0].isdigit():
            break
        rows.append(words)
    return rows


@pytest.fixture
def busy(make_instance):
    """Two nodes of two cores: two jobs running (one with a time limit), one waiting for
    resources, one held."""
    instance = make_instance(test_size=2)
    running = [instance.submit("-n2", "-t", "10m", "--job-name=limited", "sh", "-c",
                               "echo hello-from-top; sleep 300"),
               instance.submit("-n2", "--job-name=open", "sleep", "300")]
    with instance.client() as client:
        for job_id in running:
            client.wait_event(job_id, "start", 20)
    waiting = instance.submit("-n2", "--job-name=waiting", "sleep", "300")
    held = instance.submit("--urgency=hold", "--job-name=held", "true")
    yield instance, running, waiting, held
    instance.corral("cancel", "--all")


def test_top_shows_nodes_jobs_and_throughput_and_q_quits(busy):
    instance, running, waiting, held = busy
    screen = Screen(instance, "-d", "0.3")
    try:
        shown = screen.wait_text("Resources")
        assert "nodes: 2 (0 drained)  cores: 4 used, 0 free of 4" in shown
        assert "jobs: 2 pending, 2 running" in shown
        node_lines = [line for line in shown.splitlines()
                      if line.startswith("node") and " cores " in line]
        assert len(node_lines) == 2
        assert all("[" + "|" * 10 in line and "2/2" in line for line in node_lines)
        rows = {int(row[0]): row for row in job_rows(shown)}
        assert set(rows) == {*running, waiting, held}
        limited, other = rows[running[0]], rows[running[1]]
        assert limited[2] == "R" and limited[3] == "limited"
        assert limited[-2].startswith("9:")  # remaining of 10 minutes, as M:SS
        assert other[-2] == "-"  # no time limit
        assert rows[waiting][-1] == "Resources"
        assert rows[held][2] == "S" and rows[held][-1] in ("priority", "sched")

        # Jobs that end while top watches: 4 canceled, 30 run to completion.
        instance.corral("cancel", "--all")
        instance.corral("submit", "--cc", "1-30", SIMULATED, "true")
        shown = screen.wait_text("34 inactive")
        shown = screen.wait_text("0 running")
        throughput = float(shown.split("throughput: ")[1].split()[0])
        assert throughput >= 34  # all of them in the last minute
        assert job_rows(shown) == []

        screen.keys("q")
        shown = screen.wait_text("exited 0")
        assert "Traceback" not in shown
    finally:
        screen.close()


def test_top_keys_sort_filter_and_open_a_job(busy):
    instance, running, waiting, held = busy
    screen = Screen(instance, "-d", "0.3")
    try:
        screen.wait_text("Resources")
        screen.keys("s")  # order -> id
        shown = screen.wait_text("sort: id")
        ids = [int(row[0]) for row in job_rows(shown)]
        assert ids == sorted(running) + sorted([waiting, held])
        screen.keys("r")
        shown = screen.wait_text("sort: id (reversed)")
        assert [int(row[0]) for row in job_rows(shown)] == \
            sorted(running, reverse=True) + sorted([waiting, held], reverse=True)

        guest = guest_user()
        screen.keys("u")
        screen.wait_text("user (empty for all):")
        screen.keys(guest.pw_name, "Enter")
        shown = screen.wait_text(f"user: {guest.pw_name}")
        screen.wait_text("(no jobs)")
        screen.keys("u", "Enter")
        screen.wait_text("user: all")
        screen.keys("f", "nosuchqueue", "Enter")
        screen.wait_text("queue: nosuchqueue")
        screen.wait_text("(no jobs)")
        screen.keys("f", "Enter")
        screen.wait_text("queue: all")

        # Select the job with output (the newest running one is last with this sort) and
        # open it: its eventlog and the tail of its output.
        screen.keys("r")
        shown = screen.wait_for(lambda text: "reversed" not in text, "the sort not reversed")
        assert int(job_rows(shown)[0][0]) == running[0]
        screen.keys("Enter")
        shown = screen.wait_text("hello-from-top")
        assert f"job {running[0]}  limited" in shown
        assert "eventlog:" in shown and " start" in shown and " alloc " in shown
        screen.keys("Escape")
        screen.wait_text("JOBID")
        screen.keys("j", "Enter")  # the next row: the other running job
        screen.wait_text(f"job {running[1]}  open")
        screen.keys("q")  # back from the job, then quit
        screen.wait_text("JOBID")
        screen.keys("q")
        screen.wait_text("exited 0")
    finally:
        screen.close()


def test_ctrl_c_leaves_top_cleanly(busy):
    instance = busy[0]
    screen = Screen(instance)
    try:
        screen.wait_text("Resources")
        screen.keys("C-c")
        shown = screen.wait_text("exited 130")
        # curses gave the terminal back: the screen holds nothing of top's but the status
        assert "JOBID" not in shown and "Traceback" not in shown
    finally:
        screen.close()


def test_top_without_a_terminal_says_so_and_once_prints_one_screen(busy):
    instance, running, waiting, held = busy
    result = instance.corral("top", check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "corral top: not a terminal (use --once for one screen as text)\n"

    once = instance.corral("top", "--once")
    assert once.stdout.startswith("corral top  ")
    assert instance.uri in once.stdout.splitlines()[0]
    assert {int(row[0]) for row in job_rows(once.stdout)} == {*running, waiting, held}
    mine = instance.corral("top", "--once", "--user", str(os.getuid() + 12345))
    assert "(no jobs)" in mine.stdout
    bad = instance.corral("top", "--once", "--user", "no-such-user-here", check=False)
    assert bad.returncode == 1 and bad.stderr == "corral top: unknown user " \
                                                 "'no-such-user-here'\n"


def test_a_guest_sees_only_their_own_jobs(guest_instance):
    instance = guest_instance()
    guest = guest_user()

    def top_once(*args):
        """``corral top --once ARGS`` run by the guest (in a forked child, as the guest)."""
        def run(_client):
            os.environ["CORRAL_URI"] = instance.uri
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = cli.main(["top", "--once", *args])
            return {"status": status, "stdout": out.getvalue(), "stderr": err.getvalue()}
        return as_guest(instance.uri, run)

    own = as_guest(instance.uri, lambda client: client.submit(
        jobspec.build(["true"], cwd="/tmp"), urgency=0))
    instance.submit("--urgency=hold", "true")  # the owner's: not for the guest's eyes
    once = top_once()
    assert once["status"] == 0, once["stderr"]
    assert f"user: {guest.pw_name}" in once["stdout"]
    assert "jobs: 2 pending" in once["stdout"]  # counts are everyone's, as in Flux
    assert [int(row[0]) for row in job_rows(once["stdout"])] == [own]
    everyone = top_once("--user=all")
    assert everyone["status"] == 1
    assert everyone["stderr"].startswith("corral top: ")


def test_gpus_and_drained_nodes_are_shown(make_instance, tmp_path):
    config = tmp_path / "gpus.toml"
    config.write_text('[[resource.config]]\nhosts = "gpu[0-1]"\ncores = "0-1"\ngpus = "0-1"\n')
    instance = make_instance(config=config)
    job_id = instance.submit("-g", "1", "sleep", "300")
    with instance.client() as client:
        client.wait_event(job_id, "start", 20)
    instance.corral("resource", "drain", "gpu1", "bad fan")
    try:
        shown = instance.corral("top", "--once").stdout
    finally:
        instance.corral("cancel", "--all")
    assert "nodes: 2 (1 drained)  cores: 1 used, 3 free of 4  gpus: 1 used, 3 free of 4" in shown
    lines = {line.split()[0]: line for line in shown.splitlines()
             if line.startswith("gpu") and " cores " in line}
    used = next(line for line in lines.values() if "gpus [" in line and " 1/2" in line)
    assert "drained" not in used
    assert lines["gpu1"].endswith(" drained")
    assert [int(row[0]) for row in job_rows(shown)] == [job_id]
