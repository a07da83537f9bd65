"""Standard input reaches task 0 of ``corral run`` (``echo hi | corral run cat``), as with
``flux run`` and ``srun``; the other tasks, and jobs run without input, read /dev/null."""

import hashlib
import json
import os
import pty
import select
import subprocess
import sys
import time

from support import until


def test_piped_stdin_reaches_the_task(instance):
    result = instance.corral("run", "cat", input="hi\n")
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")


def test_only_task_0_reads_it(make_instance):
    instance = make_instance(test_size=2)
    result = instance.corral("run", "-N2", "sh", "-c", 'cat; echo "rank $CORRAL_TASK_RANK"',
                             input="data\n")
    assert sorted(result.stdout.splitlines()) == ["data", "rank 0", "rank 1"]


def test_a_megabyte_arrives_whole_and_a_task_may_stop_reading(instance, tmp_path):
    data = os.urandom(1 << 20)
    path = tmp_path / "input"
    path.write_bytes(data)
    with open(path, "rb") as stdin:
        result = _run(instance, ["run", "md5sum"], stdin)
    assert result == (0, f"{hashlib.md5(data).hexdigest()}  -\n")
    with open(path, "rb") as stdin:  # the task stops reading: the rest is dropped
        assert _run(instance, ["run", "sh", "-c", "head -c 4 >/dev/null; echo done"],
                    stdin) == (0, "done\n")


def _run(instance, args, stdin):
    result = subprocess.run([sys.executable, "-m", "corral", *args], stdin=stdin,
                            env=instance.env(), capture_output=True, timeout=60)
    return result.returncode, result.stdout.decode()


def test_without_input_the_job_reads_dev_null_and_asks_for_no_stream(instance):
    with open(os.devnull, "rb") as devnull:
        assert _run(instance, ["run", "cat"], devnull) == (0, "")
    closed = subprocess.run(f"{sys.executable} -m corral run cat <&-", shell=True,
                            env=instance.env(), capture_output=True, text=True, timeout=60)
    assert (closed.returncode, closed.stdout) == (0, "")
    for job in instance.client().jobs(states=127):
        spec = json.loads(instance.corral("job", "info", job["id"], "jobspec").stdout)
        assert "input" not in spec["attributes"]["system"].get("shell", {}).get("options", {})
    result = instance.corral("run", "--setattr=exec.test.run_duration=0", "true", input="x\n")
    assert result.returncode == 0 and result.stderr == ""


def test_a_terminal_is_forwarded_until_end_of_file(instance):
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(sys.executable, [sys.executable, "-m", "corral", "run", "cat"],
                      instance.env())
        finally:
            os._exit(127)
    shown = b""
    try:
        with instance.client() as client:
            until(lambda: [job["state_name"] for job in client.jobs()] == ["RUN"])
        deadline = time.monotonic() + 30
        os.write(fd, b"typed\n")
        os.write(fd, b"\x04")  # ^D: end of file
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                shown += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    # The terminal echoes what was typed; cat prints it back once it came through.
    assert shown.replace(b"\r\n", b"\n").count(b"typed\n") == 2, shown
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_terminal_of_a_background_run_is_left_alone(instance):
    """``corral run cat &`` at an interactive shell: reading the terminal would stop it
    (SIGTTIN), so the job reads /dev/null and the command ends on its own."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            child = os.fork()
            if child == 0:
                os.setpgid(0, 0)  # a process group that is not the terminal's foreground
                os.execve(sys.executable, [sys.executable, "-m", "corral", "run", "cat"],
                          instance.env())
            _, status = os.waitpid(child, 0)
            os._exit(os.waitstatus_to_exitcode(status))
        finally:
            os._exit(127)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("corral run in the background did not end by itself")
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    (job,) = instance.client().jobs(states=127)
    spec = json.loads(instance.corral("job", "info", job["id"], "jobspec").stdout)
    assert "input" not in spec["attributes"]["system"].get("shell", {}).get("options", {})
