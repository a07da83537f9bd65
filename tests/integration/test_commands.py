"""The commands as a newcomer meets them: signal names, ``--``, one-line errors that name the
command, ``--uri``, how a command finds an instance, what ``corral start`` says, ``--version``
and ``help``."""

import contextlib
import io
import os
import signal
import subprocess
import sys

import pytest

import corral
from corral import cli

CORRAL = [sys.executable, "-m", "corral"]


def corral_without_instance(*args, prefix, **env):
    """Run corral with no ``CORRAL_URI`` and the system instance looked for under
    ``prefix`` (where none runs)."""
    environment = {key: value for key, value in os.environ.items() if key != "CORRAL_URI"}
    environment.update(CORRAL_SYSTEM_PREFIX=str(prefix), **env)
    return subprocess.run([*CORRAL, *map(str, args)], env=environment, capture_output=True,
                          text=True, timeout=60)


def finish_status(instance, *kill_args):
    """Kill a sleeping job with ``corral job kill KILL_ARGS ID``; its finish wait status."""
    job_id = instance.submit("sleep", "100")
    with instance.client() as client:
        client.wait_event(job_id, "start", 20)
        instance.corral("job", "kill", *kill_args, job_id)
        return client.wait_event(job_id, "finish", 20)["context"]["status"]


def test_job_kill_takes_signal_names_in_any_case_and_numbers(instance):
    assert finish_status(instance) == signal.SIGTERM  # its own default, SIGTERM
    assert finish_status(instance, "-s", "USR1") == signal.SIGUSR1
    assert finish_status(instance, "--signal=sigusr2") == signal.SIGUSR2
    assert finish_status(instance, "-s", "SIGHUP") == signal.SIGHUP
    assert finish_status(instance, "-s", "9") == signal.SIGKILL


def test_job_kill_refuses_an_unknown_signal_in_one_line(instance):
    job_id = instance.submit("sleep", "100")
    for text in ("FOO", "0", "999"):
        result = instance.corral("job", "kill", "-s", text, job_id, check=False)
        assert (result.returncode, result.stderr) == (
            1, f"corral job kill: unknown signal '{text}'\n")
    instance.corral("cancel", job_id)


def test_double_dash_ends_the_options_of_run_and_submit(instance):
    result = instance.corral("run", "-n1", "--", "sh", "-c", "echo hi; exit 3", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (
        3, "hi\n", f"corral run: job {instance.client().jobs(states=64)[0]['id']}: task(s) "
                   "exited with exit code 3\n")
    job_id = instance.submit("--", "echo", "--", "x")
    instance.wait_inactive(job_id)
    spec = instance.client().job_info(job_id, "jobspec")["jobspec"]
    assert spec["tasks"][0]["command"] == ["echo", "--", "x"]
    assert instance.corral("job", "attach", job_id).stdout == "-- x\n"
    assert instance.client().job(job_id)["name"] == "echo"


def test_srun_keeps_its_own_double_dash(instance):
    assert instance.corral("slurm", "srun", "--", "echo", "hi").stdout == "hi\n"


def test_a_failing_command_says_which_in_one_line(instance):
    instance.corral("queue", "disable", "maintenance")
    result = instance.corral("run", "hostname", check=False)
    assert (result.returncode, result.stderr) == (
        1, "corral run: job submission to the queue is disabled: maintenance\n")
    instance.corral("queue", "enable")
    cases = {
        ("job", "kill", "99999"): (1, "corral job kill: unknown job id 99999\n"),
        ("job", "eventlog", "99999"): (1, "corral job eventlog: unknown job id 99999\n"),
        ("jobtap", "remove", "nosuch.py"): (1, "corral jobtap remove: nosuch.py not found\n"),
        ("run", "--urgency=soon", "true"): (
            1, "corral run: invalid urgency 'soon' (0-31, hold, default, expedite)\n"),
        ("submit", "--flags=fast", "true"): (1, "corral submit: unknown job flag 'fast'\n"),
        ("submit",): (1, "corral submit: a COMMAND (or --jobspec=FILE) is required\n"),
        ("job", "kill", "one"): (
            2, "corral job kill: argument id: invalid int value: 'one' "
               "(see corral job kill --help)\n"),
        ("help", "nosuch"): (1, "corral help: no command 'nosuch' (corral help lists them)\n"),
        ("jobs", "-a", "--formt"): (
            2, "corral jobs: unrecognized arguments: --formt (did you mean --format?)\n"),
        ("job", "eventlog", "--bogus", "1"): (
            2, "corral job eventlog: unrecognized arguments: --bogus "
               "(see corral job eventlog --help)\n"),
        ("slurm", "path", "--bogus"): (
            2, "corral slurm path: unrecognized arguments: --bogus (see corral slurm --help)\n"),
    }
    for args, expected in cases.items():
        result = instance.corral(*args, check=False)
        assert (result.returncode, result.stderr) == expected, args


def test_a_misspelt_option_command_or_subcommand_is_named_with_the_closest_one(tmp_path):
    cases = {
        ("--versoin",): "corral: unrecognized arguments: --versoin (did you mean --version?)",
        ("--verison", "jobs"): "corral: unrecognized arguments: --verison "
                               "(did you mean --version?)",
        ("--bogus", "jobs"): "corral: unrecognized arguments: --bogus (see corral --help)",
        ("subimt", "true"): "corral: no command 'subimt' (did you mean submit?)",
        ("--uri", "local:///x", "nosuch"): "corral: no command 'nosuch' "
                                           "(corral help lists them)",
        ("submit", "--ntaks=2", "true"): "corral submit: unrecognized arguments: --ntaks=2 "
                                         "(did you mean --ntasks?)",
        ("--", "jobs"): "corral: '--' ends a command's options, so it comes after the command "
                        "(as in corral run -- hostname)",
        ("job", "atach", "1"): "corral job: no subcommand 'atach' (did you mean attach?)",
        ("job", "zzzqqq"): "corral job: no subcommand 'zzzqqq' (corral job --help lists them)",
        ("slurm", "squeu"): "corral slurm: argument path|sbatch|srun|squeue|scancel|sacct|sinfo|"
                            "scontrol|salloc|sshare: invalid choice: 'squeu' "
                            "(did you mean squeue?)",
    }
    for args, expected in cases.items():
        result = corral_without_instance(*args, prefix=tmp_path)
        assert (result.returncode, result.stderr) == (2, expected + "\n"), args


def test_start_on_a_state_dir_that_cannot_be_created_says_so_in_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run([*CORRAL, "start", f"--state-dir={blocker}/state", "--", "true"],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (
        1, f"corral start: cannot create state directory {blocker}/state: {blocker}: "
           "Not a directory\n")


def test_every_command_takes_uri_before_or_after_its_name(instance, tmp_path):
    job_id = instance.submit("true")
    instance.wait_inactive(job_id)
    for args in (("--uri", instance.uri, "jobs", "-a", "-n", "-o", "{id}"),
                 ("jobs", "--uri", instance.uri, "-a", "-n", "-o", "{id}"),
                 ("job", "--uri", instance.uri, "info", job_id, "R"),
                 ("job", "info", f"--uri={instance.uri}", job_id, "R")):
        result = corral_without_instance(*args, prefix=tmp_path)
        assert (result.returncode, result.stderr) == (0, ""), args
        assert result.stdout.startswith(str(job_id) if args[0] != "job" else "{")


def test_without_an_instance_a_command_says_how_to_name_one(tmp_path):
    result = corral_without_instance("jobs", prefix=tmp_path)
    assert (result.returncode, result.stderr) == (
        1, "corral jobs: no instance to talk to: CORRAL_URI is not set and no system "
           f"instance has its socket at {tmp_path}/run/corral/local.sock (run 'corral start' "
           "and export the CORRAL_URI it prints, or give --uri)\n")


def test_start_says_where_it_serves_and_the_line_to_export(tmp_path):
    state = tmp_path / "state"
    process = subprocess.Popen([*CORRAL, "start", f"--state-dir={state}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        uri = f"local://{state}/local.sock"
        assert process.stderr.readline() == f"corral: serving at {uri}\n"
        export = process.stderr.readline()
        assert export == f"export CORRAL_URI={uri}\n"
        listing = subprocess.run(["sh", "-c", f"{export.strip()}; {' '.join(CORRAL)} jobs"],
                                 capture_output=True, text=True, timeout=60, check=True)
        assert listing.stdout.split()[0] == "JOBID"
    finally:
        process.terminate()
        assert process.wait(30) == 0
    assert process.stdout.read() == ""


def test_start_with_a_command_keeps_its_output_clean(tmp_path):
    result = subprocess.run([*CORRAL, "start", f"--state-dir={tmp_path / 'state'}", "--",
                             "sh", "-c", "echo $CORRAL_URI"],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (
        0, f"local://{tmp_path}/state/local.sock\n", "")


def test_version_and_help(tmp_path):
    result = corral_without_instance("--version", prefix=tmp_path)
    assert (result.returncode, result.stdout) == (0, f"corral {corral.__version__}\n")
    listing = corral_without_instance("help", prefix=tmp_path).stdout
    for name in cli.COMMANDS:
        assert f"\n    {name} " in listing, name
    one = corral_without_instance("help", "job", "kill", prefix=tmp_path)
    assert one.returncode == 0
    assert one.stdout.startswith("usage: corral job kill ")
    assert "\nSend a signal to a running job's tasks.\n" in one.stdout


def _parsers(parser):
    """Every command and subcommand parser under ``parser``."""
    for action in parser._actions:
        for child in getattr(action, "choices", None) or {}:
            if isinstance(action.choices, dict):
                yield action.choices[child]
                yield from _parsers(action.choices[child])


#: The commands that reach no instance, and so take no --uri.
OFFLINE = ("corral start", "corral keygen", "corral sim", "corral agent", "corral help")


def test_every_command_help_has_a_description_line_and_uri_where_it_connects():
    progs = [parser.prog for parser in _parsers(cli.build_parser())]
    assert "corral job kill" in progs and "corral queue status" in progs
    for prog in progs:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
            cli.main([*prog.split()[1:], "--help"])
        assert exited.value.code == 0, prog
        paragraphs = out.getvalue().split("\n\n")
        assert paragraphs[0].startswith(f"usage: {prog}"), prog
        assert not paragraphs[1].startswith(("positional arguments", "options")), prog
        assert ("--uri URI" in paragraphs[0]) == (prog not in OFFLINE), prog


def test_an_unsatisfiable_request_says_what_was_asked_and_what_exists(instance):
    ncores = len(os.sched_getaffinity(0))
    result = instance.corral("run", "-N1", "-n2", f"-c{ncores}", "true", check=False)
    job_id = instance.client().jobs(states=64)[0]["id"]
    assert (result.returncode, result.stderr) == (
        1, f"corral run: job {job_id}: alloc exception: alloc denied: unsatisfiable request: "
           f"{2 * ncores} cores per node requested; the largest node has {ncores}\n")


def test_job_update_name_renames_pending_and_running_jobs(instance):
    instance.corral("queue", "stop")
    pending = instance.submit("true")
    instance.corral("job", "update", pending, "name=2024")
    assert instance.client().job(pending)["name"] == "2024"
    instance.corral("queue", "start")
    running = instance.submit("sleep", "100")
    instance.client().wait_event(running, "start", 20)
    instance.corral("job", "update", running, "name=renamed run")
    listing = instance.corral("jobs", "-a", "-n", "-o", "{id} {name}").stdout.splitlines()
    assert f"{running} renamed run" in listing and f"{pending} 2024" in listing
    result = instance.corral("job", "update", running, "name=", check=False)
    assert (result.returncode, result.stderr) == (
        1, "corral job update: job name must be a non-empty string\n")
    instance.corral("cancel", running)


def test_a_start_failure_names_the_file_it_could_not_open(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "corral.db").write_bytes(b"not a database, " * 512)
    keys = tmp_path / "keys"
    (keys / "controller.key_secret").mkdir(parents=True)
    config = tmp_path / "agents.toml"
    config.write_text(f'[agents]\nlisten = "ipc://{tmp_path}/agents"\nkey-dir = "{keys}"\n'
                      '[[resource.config]]\nhosts = "n0"\ncores = "0"\n')
    for args, message in (
            ([f"--state-dir={state}"],
             f"{state}/corral.db: cannot open the job store: file is not a database"),
            ([f"--config={config}"],
             f"cannot read the key in {keys}/controller.key_secret: Is a directory"),
            ([f"--config={tmp_path}/nowhere.toml"],
             f"{tmp_path}/nowhere.toml: no such file or directory")):
        result = subprocess.run([*CORRAL, "start", *args, "--", "true"], capture_output=True,
                                text=True, timeout=60)
        assert (result.returncode, result.stderr) == (1, f"corral start: {message}\n")


def test_start_logs_a_plugin_failure_in_one_line_and_its_traceback_only_with_v(tmp_path):
    plugins = os.path.join(os.path.dirname(os.path.dirname(__file__)), "plugins")
    config = tmp_path / "plugins.toml"
    config.write_text(f'[job-manager]\nplugins = [{{ load = "{plugins}/misbehave.py" }}]\n')
    logged = "corral.jobtap: ERROR: jobtap: misbehave.py: job.state.run: callback raised " \
             "RuntimeError: run callback failed on purpose"
    for verbose in ([], ["-v"]):
        result = subprocess.run(
            [*CORRAL, "start", f"--config={config}", *verbose, "--", *CORRAL, "run", "-S",
             "misbehave=raise", "true"], capture_output=True, text=True, timeout=60)
        assert logged in result.stderr.splitlines()
        assert ("Traceback (most recent call last):" in result.stderr) == bool(verbose)


def test_attach_into_a_reader_that_goes_away_ends_and_leaves_the_job_alone(instance):
    """``corral job attach ID | head -1``: the closed pipe ends attach at once; it is not
    taken for the instance going away (which attach would wait for)."""
    job = instance.submit("sh", "-c", "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.1; done")
    with instance.client() as client:
        client.wait_event(job, "start", 30)
    completed = subprocess.run(
        f"{sys.executable} -m corral job attach {job} | head -1", shell=True,
        env=instance.env(), capture_output=True, text=True, timeout=30)
    assert completed.stdout == "line 1\n"
    assert "lost the instance" not in completed.stderr
    with instance.client() as client:
        assert client.job(job)["state_name"] == "RUN"
        client.cancel(job)
