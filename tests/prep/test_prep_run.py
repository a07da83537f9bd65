"""Running one script the way Slurm's run_command does: real processes, real timeouts."""

import os
import signal
import threading
import time

from corral.prep.run import NOT_RUN, RunningScripts, run_script


def run(path, env=None, timeout=None, running=None):
    return run_script(path, env if env is not None else {}, timeout, "prolog", 7, running)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_script_gets_only_its_path_the_given_environment_and_dev_null(make_script, tmp_path):
    out = tmp_path / "seen"
    path = make_script("show", f"""
        exec > {out}
        echo "argc=$#"
        echo "argv0=$0"
        /usr/bin/env
        /usr/bin/readlink /proc/self/fd/0
    """)
    result = run(path, {"SLURM_JOB_ID": "7", "SPANK_X": "y"})
    assert result.status == 0 and not result.timed_out
    lines = out.read_text().splitlines()
    assert lines[0] == "argc=0"
    assert lines[1] == f"argv0={path}"
    # The shell adds PWD, SHLVL and _ itself; nothing else is there: no PATH, HOME or USER.
    env = dict(line.split("=", 1) for line in lines[2:-1])
    assert {k: v for k, v in env.items() if k not in ("PWD", "SHLVL", "_")} == {
        "SLURM_JOB_ID": "7", "SPANK_X": "y"}
    assert lines[-1] == "/dev/null"


def test_stdout_and_stderr_are_captured_together_for_the_log(make_script):
    path = make_script("noisy", "echo one\necho two >&2\necho three\n")
    result = run(path)
    assert result.output == "one\ntwo\nthree\n"


def test_the_status_is_the_raw_wait_status(make_script):
    assert run(make_script("exit3", "exit 3\n")).status == 768
    killed = run(make_script("killed", "kill -9 $$\n"))
    assert os.WIFSIGNALED(killed.status) and os.WTERMSIG(killed.status) == signal.SIGKILL
    assert not killed.timed_out


def test_the_script_runs_in_its_own_process_group_without_inherited_descriptors(make_script,
                                                                               tmp_path):
    out = tmp_path / "seen"
    path = make_script("fds", f"""
        ps -o pgid= -p $$ | tr -d ' ' > {out}
        for fd in 0 1 2 50; do [ -e /proc/$$/fd/$fd ] && echo $fd >> {out}; done
        exit 0
    """)
    leaked = os.open("/dev/null", os.O_RDONLY)
    os.dup2(leaked, 50, inheritable=True)  # would reach the script without close_fds
    try:
        assert run(path, {"PATH": "/usr/bin:/bin"}).status == 0
    finally:
        os.close(50)
        os.close(leaked)
    pgid, *open_fds = out.read_text().split()
    assert int(pgid) != os.getpgid(0)
    assert open_fds == ["0", "1", "2"]


def test_a_relative_missing_or_unexecutable_path_is_127_and_nothing_runs(make_script, tmp_path,
                                                                        monkeypatch):
    marker = tmp_path / "ran"
    body = f"touch {marker}\n"
    executable = make_script("ok", body)
    monkeypatch.chdir(os.path.dirname(executable))
    assert run("ok").status == NOT_RUN
    assert run("./ok").status == NOT_RUN
    assert run(str(tmp_path / "missing")).status == NOT_RUN
    assert run(make_script("plain", body, mode=0o644)).status == NOT_RUN
    assert run("").status == NOT_RUN
    assert not marker.exists()
    assert run(executable).status == 0 and marker.exists()


def test_a_script_that_cannot_be_executed_exits_127_like_a_failed_exec(make_script):
    path = make_script("badshebang", "#!/nonexistent/interpreter\n")
    result = run(path)
    assert os.WIFEXITED(result.status) and os.WEXITSTATUS(result.status) == 127


def test_timeout_sends_sigterm_then_sigkill_to_the_process_group(make_script, tmp_path):
    marker = tmp_path / "got-term"
    child_pid = tmp_path / "child"
    path = make_script("stubborn", f"""
        sleep 30 &
        echo $! > {child_pid}
        trap 'echo term > {marker}' TERM
        while true; do sleep 0.05; done
    """)
    started = time.monotonic()
    result = run(path, {"PATH": "/usr/bin:/bin"}, timeout=0.3)
    elapsed = time.monotonic() - started
    assert result.timed_out
    assert os.WIFSIGNALED(result.status) and os.WTERMSIG(result.status) == signal.SIGKILL
    assert 0.3 <= elapsed < 2.0
    assert marker.read_text() == "term\n"  # SIGTERM came first and was trapped
    wait_for(lambda: not pid_alive(int(child_pid.read_text())))


def test_a_background_child_holding_the_pipe_keeps_the_script_running_until_the_timeout(
        make_script):
    path = make_script("lingering", "sleep 30 &\nexit 0\n")
    started = time.monotonic()
    result = run(path, {"PATH": "/usr/bin:/bin"}, timeout=0.4)
    assert time.monotonic() - started >= 0.4
    assert result.timed_out
    # The script itself had exited 0 long before: its own status is what is reported.
    assert result.status == 0


def test_what_a_script_leaves_behind_in_its_group_is_killed_when_it_ends(make_script, tmp_path):
    child_pid = tmp_path / "child"
    path = make_script("detach", f"""
        sleep 30 > /dev/null 2>&1 &
        echo $! > {child_pid}
        exit 0
    """)
    result = run(path, {"PATH": "/usr/bin:/bin"}, timeout=5)
    assert result.status == 0 and not result.timed_out
    wait_for(lambda: not pid_alive(int(child_pid.read_text())))


def test_without_timeout_a_script_runs_as_long_as_it_needs(make_script):
    result = run(make_script("slowish", "sleep 0.3\nexit 2\n"), {"PATH": "/usr/bin:/bin"})
    assert result.status == 2 << 8 and not result.timed_out


def test_running_scripts_of_a_job_can_be_killed_and_report_sigkill(make_script):
    path = make_script("forever", "while true; do sleep 0.05; done\n")
    running = RunningScripts()
    results = []
    thread = threading.Thread(target=lambda: results.append(
        run_script(path, {"PATH": "/usr/bin:/bin"}, None, "PrologSlurmctld", 9, running)))
    thread.start()
    wait_for(lambda: running.kill_job(9) == 1)
    thread.join(5)
    assert not thread.is_alive()
    (result,) = results
    assert os.WTERMSIG(result.status) == signal.SIGKILL and not result.timed_out
    assert running.kill_job(9) == 0


def test_output_beyond_the_limit_is_read_but_not_kept(make_script, monkeypatch):
    from corral.prep import run as run_module

    monkeypatch.setattr(run_module, "OUTPUT_LIMIT", 10)
    result = run(make_script("chatty", "echo 0123456789abcdef\necho more\n"))
    assert result.status == 0 and result.output == "0123456789"
