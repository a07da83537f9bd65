"""prep/script: the site's scripts run as Slurm runs them, through the PrEp host."""

import logging
import os
import pathlib
import signal
import time

import pytest

from corral import prep
from corral.prep import CallType
from corral.prep.config import PrepSettings
from corral.prep.cred import CredentialKey
from corral.prep.environment import controller_env, node_env
from corral.prep.host import PrepHost
from corral.prep.loader import PrepError
from corral.prep.pending import is_failure
from corral.testing import PluginFailure
from corral.testing import kit as kit_module

SHELL_VARIABLES = ("PWD", "SHLVL", "_")


def make_host(deliver=None, controller=False, node=True, **settings):
    """A node agent's host by default; with ``deliver``, the controller's as well."""
    controller = controller or deliver is not None
    host = PrepHost(PrepSettings(**settings), controller=controller, node=node,
                    deliver=deliver if controller else None)
    host.init()
    return host


def journal_script(make_script, journal, name, status=0):
    """A script that appends its name to ``journal`` and exits with ``status``."""
    return make_script(name, f"echo {os.path.basename(name)} >> {journal}\nexit {status}\n")


def read_env(path):
    env = dict(line.split("=", 1) for line in path.read_text().splitlines())
    return {name: value for name, value in env.items() if name not in SHELL_VARIABLES}


@pytest.fixture
def job_and_cred(make_job):
    job = make_job(job_id=31, queue="debug", cwd="/tmp", setattr=["account=peers"],
                   fields={"waitstatus": 3 << 8})
    cred = prep.Cred.from_job(job, CredentialKey())
    return job, prep.JobEnv.from_job(job, "node0"), cred


# --- node scripts --------------------------------------------------------------------------


def test_each_patterns_matches_run_in_reverse_order_patterns_in_config_order(
        make_script, tmp_path, job_and_cred):
    _job, job_env, cred = job_and_cred
    journal = tmp_path / "journal"
    for name in ("d1/a", "d1/B", "d1/c", "d1/10", "single", "d2/x", "d2/y"):
        journal_script(make_script, journal, name)
    scripts = tmp_path / "scripts"
    host = make_host(prolog=(f"{scripts}/d1/*", f"{scripts}/single", f"{scripts}/d2/*"))
    assert host.prolog(job_env, cred) == prep.SUCCESS
    assert journal.read_text().split() == ["c", "a", "B", "10", "single", "y", "x"]


def test_a_pattern_matching_nothing_fails_before_any_script_runs(make_script, tmp_path, caplog,
                                                                job_and_cred):
    _job, job_env, cred = job_and_cred
    journal = tmp_path / "journal"
    first = journal_script(make_script, journal, "first")
    empty = tmp_path / "prolog.d"
    empty.mkdir()
    host = make_host(prolog=(first, f"{empty}/*"))
    with caplog.at_level(logging.ERROR, "corral.prep.script"):
        assert host.prolog(job_env, cred) == prep.ERROR
    assert f"JobId=31 prolog: Unable to create list of paths [{empty}/*]" in caplog.text
    assert not journal.exists()


def test_the_first_failing_script_stops_the_rest_and_its_status_is_the_result(
        make_script, tmp_path, caplog, job_and_cred):
    _job, job_env, cred = job_and_cred
    journal = tmp_path / "journal"
    paths = (journal_script(make_script, journal, "e1"),
             make_script("e2", f"echo e2 >> {journal}\necho why >&2\nexit 3\n"),
             journal_script(make_script, journal, "e3"))
    host = make_host(epilog=paths)
    with caplog.at_level(logging.ERROR, "corral.prep.script"):
        assert host.epilog(job_env, cred) == 3 << 8
    assert journal.read_text().split() == ["e1", "e2"]
    assert "JobId=31 epilog failed: rc:3 output:why" in caplog.text


def test_node_scripts_see_exactly_the_slurmd_environment(make_script, tmp_path, job_and_cred):
    _job, job_env, cred = job_and_cred
    seen = tmp_path / "env"
    path = make_script("dump", f"exec /usr/bin/env > {seen}\n")
    settings = dict(prolog=(path,), epilog=(path,), cluster_name="local",
                    conf_path="/etc/corral/corral.toml")
    host = make_host(**settings)
    assert host.prolog(job_env, cred) == prep.SUCCESS
    expected = node_env(job_env, cred, False, "local", "/etc/corral/corral.toml")
    assert read_env(seen) == expected
    assert expected["SLURM_SCRIPT_CONTEXT"] == "prolog_slurmd"
    assert expected["SLURM_JOB_ACCOUNT"] == "peers" and expected["SLURMD_NODENAME"] == "node0"
    assert host.epilog(job_env, cred) == prep.SUCCESS
    epilog_env = read_env(seen)
    assert epilog_env == node_env(job_env, cred, True, "local", "/etc/corral/corral.toml")
    assert epilog_env["SLURM_JOB_EXIT_CODE"] == "768"
    assert epilog_env["SLURM_JOB_EXIT_CODE2"] == "3:0"
    assert "PATH" not in epilog_env and "HOME" not in epilog_env and "USER" not in epilog_env


def test_a_node_script_past_its_timeout_is_killed_and_fails(make_script, job_and_cred):
    _job, job_env, cred = job_and_cred
    path = make_script("hang", "exec /bin/sleep 30\n")
    host = make_host(prolog=(path,), epilog=(path,), prolog_timeout=0.2, epilog_timeout=0.4)
    started = time.monotonic()
    status = host.prolog(job_env, cred)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
    assert 0.2 <= time.monotonic() - started < 0.4
    started = time.monotonic()
    assert host.epilog(job_env, cred) != prep.SUCCESS
    assert 0.4 <= time.monotonic() - started < 0.8


def test_without_node_scripts_the_node_hooks_succeed(job_and_cred):
    _job, job_env, cred = job_and_cred
    host = make_host()
    assert host.prolog(job_env, cred) == host.epilog(job_env, cred) == prep.SUCCESS


def test_required_answers_follow_the_roles_and_the_scripts(make_script):
    path = make_script("ctld", "exit 0\n")
    node_only = make_host(prolog_slurmctld=(path,))
    assert [node_only.required(t) for t in CallType] == [False, True, True, False, False]
    controller_only = make_host(deliver=lambda *r: None, node=False, prolog_slurmctld=(path,))
    assert [controller_only.required(t) for t in CallType] == [False, False, False, True, False]
    both = make_host(deliver=lambda *r: None, epilog_slurmctld=(path,))
    assert [both.required(t) for t in CallType] == [False, True, True, False, True]


# --- controller scripts --------------------------------------------------------------------


@pytest.mark.parametrize("problem, expected", [
    ("missing", "No such file or directory"),
    ("unexecutable", "Permission denied"),
    ("relative", "not an absolute path"),
])
def test_init_refuses_a_controller_script_it_cannot_run(make_script, tmp_path, problem,
                                                        expected):
    path = {"missing": str(tmp_path / "nope"),
            "unexecutable": make_script("plain", "exit 0\n", mode=0o644),
            "relative": "scripts/ctld"}[problem]
    with pytest.raises(PrepError) as caught:
        make_host(deliver=lambda *r: None, epilog_slurmctld=(path,))
    assert str(caught.value) == (f"prep plugin 'prep/script': init failed: "
                                 f"Invalid EpilogSlurmctld(`{path}`): {expected}")
    # A node agent does not run controller scripts and does not check them.
    make_host(epilog_slurmctld=(path,))


def test_controller_scripts_run_at_once_one_unit_and_one_callback_each(
        make_script, tmp_path, make_job, deliveries):
    # Each script waits for the other's mark: they can only both succeed if they run at once.
    first = make_script("first", f"""
        touch {tmp_path}/first-started
        for i in $(seq 50); do [ -e {tmp_path}/second-started ] && exit 0; sleep 0.02; done
        exit 1
    """)
    second = make_script("second", f"""
        touch {tmp_path}/second-started
        for i in $(seq 50); do [ -e {tmp_path}/first-started ] && exit 4; sleep 0.02; done
        exit 1
    """)
    host = make_host(deliver=deliveries, prolog_slurmctld=(first, second))
    record = prep.JobRecord.from_job(make_job(job_id=12))
    assert host.prolog_slurmctld(record) == (prep.SUCCESS, 2)
    reports = sorted(deliveries.wait(2), key=lambda report: report[1])
    assert reports == [(CallType.PROLOG_SLURMCTLD, 0, 12, False),
                       (CallType.PROLOG_SLURMCTLD, 4 << 8, 12, False)]


def test_controller_scripts_see_exactly_the_slurmctld_environment(make_script, tmp_path,
                                                                  make_job, deliveries):
    seen = tmp_path / "env"
    path = make_script("dump", f"exec /usr/bin/env > {seen}\n")
    host = make_host(deliver=deliveries, epilog_slurmctld=(path,), cluster_name="local")
    record = prep.JobRecord.from_job(make_job(job_id=13, name="refjob", queue="debug",
                                              fields={"waitstatus": 768, "restart_count": 1}))
    assert host.epilog_slurmctld(record) == (prep.SUCCESS, 1)
    assert deliveries.wait(1) == [(CallType.EPILOG_SLURMCTLD, 0, 13, False)]
    env = read_env(seen)
    assert env == controller_env(record, True, "local")
    assert env["SLURM_SCRIPT_CONTEXT"] == "epilog_slurmctld"
    assert env["SLURM_JOB_NAME"] == "refjob" and env["SLURM_JOB_RESTART_COUNT"] == "1"
    assert env["SLURM_JOB_EXIT_CODE"] == "768" and env["SLURM_JOB_EXIT_CODE2"] == "3:0"


def test_without_controller_scripts_the_controller_hooks_are_synchronous(make_job):
    host = make_host(deliver=lambda *r: None)
    record = prep.JobRecord.from_job(make_job())
    assert not host.required(CallType.PROLOG_SLURMCTLD)
    assert host.prolog_slurmctld(record) == (prep.SUCCESS, 0)
    assert host.epilog_slurmctld(record) == (prep.SUCCESS, 0)


def test_a_controller_script_past_its_timeout_reports_a_timed_out_failure(
        make_script, make_job, deliveries):
    path = make_script("hang", "exec /bin/sleep 30\n")
    host = make_host(deliver=deliveries, prolog_slurmctld=(path,), prolog_timeout=0.2)
    host.prolog_slurmctld(prep.JobRecord.from_job(make_job(job_id=14)))
    ((kind, rc, job_id, timed_out),) = deliveries.wait(1)
    assert (kind, job_id, timed_out) == (CallType.PROLOG_SLURMCTLD, 14, True)
    assert os.WIFSIGNALED(rc) and is_failure(rc, timed_out)


def test_flushing_a_cancelled_job_kills_its_controller_scripts_without_failure(
        make_script, make_job, deliveries):
    path = make_script("hang", "exec /bin/sleep 30\n")
    host = make_host(deliver=deliveries, prolog_slurmctld=(path, path))
    started = time.monotonic()
    host.prolog_slurmctld(prep.JobRecord.from_job(make_job(job_id=15)))
    time.sleep(0.1)
    host.flush_job(15)
    reports = deliveries.wait(2)
    assert time.monotonic() - started < 2
    for kind, rc, job_id, timed_out in reports:
        assert (kind, job_id, timed_out) == (CallType.PROLOG_SLURMCTLD, 15, False)
        assert os.WTERMSIG(rc) == signal.SIGKILL and not is_failure(rc, timed_out)


def test_fini_kills_running_scripts_and_their_late_callbacks_are_dropped(
        make_script, make_job, deliveries):
    path = make_script("hang", "exec /bin/sleep 30\n")
    host = make_host(deliver=deliveries, prolog_slurmctld=(path,))
    host.prolog_slurmctld(prep.JobRecord.from_job(make_job(job_id=16)))
    time.sleep(0.1)
    host.fini()
    time.sleep(0.3)
    assert deliveries.items == []


# --- in the plugin test kit ----------------------------------------------------------------


def test_the_kit_runs_the_sites_scripts_with_slurms_environment_on_the_virtual_clock(
        corral_kit, make_script, tmp_path):
    """Every hook's scripts run for real, with the environment slurmd and slurmctld give
    them; the controller prolog takes a fifth of a real second, and no virtual time: the
    prolog opens and closes at one virtual moment, and the simulated run takes its 600 s."""
    node_prolog = make_script("prolog", f"env > {tmp_path}/prolog.$SLURMD_NODENAME\n")
    node_epilog = make_script("epilog", f"env > {tmp_path}/epilog.$SLURMD_NODENAME\n")
    ctld_prolog = make_script("ctld_prolog", f"sleep 0.2\nenv > {tmp_path}/ctld_prolog\n")
    ctld_epilog = make_script("ctld_epilog", f"env > {tmp_path}/ctld_epilog\n")
    kit = corral_kit(nodes=2, config=f"""
[prep]
prolog = "{node_prolog}"
epilog = "{node_epilog}"
prolog-slurmctld = "{ctld_prolog}"
epilog-slurmctld = "{ctld_epilog}"
""")
    job_id = kit.submit(run=600, nnodes=2, setattr=["system.account=peers"])
    kit.wait(job_id)
    assert [name for name in kit.names(job_id) if name != "release"] == [
        "submit", "validate", "depend", "priority", "alloc", "prolog-start", "prolog-finish",
        "start", "finish", "epilog-start", "epilog-finish", "free", "clean"]
    moments = {name: kit.events(job_id, name)[0]["timestamp"]
               for name in ("alloc", "prolog-start", "prolog-finish", "start", "finish")}
    assert moments["alloc"] == moments["prolog-start"] == moments["prolog-finish"]
    assert moments["finish"] - moments["start"] == 600
    assert kit.events(job_id, "prolog-finish")[0]["context"] == {"description": "prep",
                                                                 "status": 0}
    for node in ("node0", "node1"):
        prolog = read_env(tmp_path / f"prolog.{node}")
        assert (prolog["SLURM_JOB_ID"], prolog["SLURMD_NODENAME"], prolog["SLURM_JOB_NODELIST"],
                prolog["SLURM_SCRIPT_CONTEXT"], prolog["SLURM_JOB_ACCOUNT"]) == (
            str(job_id), node, "node[0-1]", "prolog_slurmd", "peers")
        epilog = read_env(tmp_path / f"epilog.{node}")
        assert (epilog["SLURM_SCRIPT_CONTEXT"], epilog["SLURM_JOB_EXIT_CODE"]) == (
            "epilog_slurmd", "0")
    controller = read_env(tmp_path / "ctld_prolog")
    assert (controller["SLURM_JOB_ID"], controller["SLURM_SCRIPT_CONTEXT"],
            controller["SLURM_JOB_NODELIST"]) == (str(job_id), "prolog_slurmctld", "node[0-1]")
    assert read_env(tmp_path / "ctld_epilog")["SLURM_SCRIPT_CONTEXT"] == "epilog_slurmctld"


def test_a_prep_hook_that_never_reports_fails_the_kit_test_naming_the_job(
        corral_kit, monkeypatch):
    """A controller prolog promising a callback it never sends: the kit waits its patience
    in real time, then lets virtual time go on (the job waits in its prolog, as in an
    instance) and fails the test."""
    monkeypatch.setattr(kit_module, "CALLBACK_PATIENCE", 0.2)
    monkeypatch.setenv("MISBEHAVE_REQUIRED", "1")
    plugin = pathlib.Path(__file__).parent / "plugins" / "misbehave.py"
    kit = corral_kit(config=f'[prep]\nplugins = ["{plugin}"]\n'
                            'parameters = "misbehave.silent=1"\n')
    job_id = kit.submit()
    with pytest.raises(PluginFailure, match=f"PrEp controller hooks sent no callback in 0.2 s "
                                            f"of real time: job {job_id} is owed 1"):
        kit.advance(10)
    kit.advance(60)
    assert kit.names(job_id)[-1] == "prolog-start"


def test_a_node_without_scratch_is_drained_and_the_job_requeued_held(corral_kit, tmp_path):
    """The site health check of docs/testing.md, as it shows it."""
    prolog = tmp_path / "prolog"
    prolog.write_text(f'#!/bin/sh\ntest -d {tmp_path}/scratch.$SLURMD_NODENAME\n')
    prolog.chmod(0o755)
    (tmp_path / "scratch.node0").mkdir()
    kit = corral_kit(nodes=2, config=f'[prep]\nprolog = "{prolog}"\n')
    job = kit.submit(run=600, nnodes=2)
    assert kit.wait(job, "requeue")["context"]["reason"] == "launch failed requeued held"
    nodes = {node["name"]: node for node in kit.rpc("resource.list")["nodes"]}
    assert (nodes["node1"]["drained"], nodes["node1"]["reason"]) == (True, "Prolog error")
    assert kit.events(job, "exception")[0]["context"]["note"] == "Prolog failure on node node1"
    assert not nodes["node0"]["drained"]
