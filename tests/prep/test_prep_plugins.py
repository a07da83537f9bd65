"""PrEp plugins in a running controller: loading, asynchronous controller
plugins finishing from their own thread, plugins that raise or hold the event loop (they can
never take the controller down), ``prep_p_required`` used as Slurm uses it, the flags
(point 6) and ``corral prep list`` (point 7).  What needs no process of its own (a plugin's
threads reporting, ``prep_p_required``) runs in the plugin test kit."""

import pathlib
import subprocess
import sys
import time

import pytest
from prep_helpers import contexts, dmesg, drained, names, submit, wait

from corral.testing import PluginFailure

PLUGINS = pathlib.Path(__file__).resolve().parent / "plugins"


def _start_fails(tmp_path, prep_toml: str, *options) -> str:
    """``corral start OPTIONS`` with this ``[prep]``: it must fail; its stderr."""
    config = tmp_path / "bad.toml"
    config.write_text("[prep]\n" + prep_toml + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "corral", "start", f"--config={config}", "--test-size=1",
         *options, sys.executable, "-c", "pass"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 1, result.stderr
    return result.stderr


def _plugin_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


_STUBS = """
from corral import prep
plugin_name = "stub"
plugin_type = "prep/stub"
def init(): return prep.SUCCESS
def fini(): pass
def prep_p_register_callbacks(callbacks): pass
def prep_p_prolog(job_env, cred): return 0
def prep_p_epilog(job_env, cred): return 0
def prep_p_prolog_slurmctld(job): return 0
def prep_p_epilog_slurmctld(job): return 0
def prep_p_required(call_type): return False
"""


def test_a_plugin_that_cannot_load_or_initialise_stops_the_start_with_one_line(tmp_path):
    missing = _plugin_file(tmp_path, "missing.py", _STUBS.replace(
        "def prep_p_required(call_type): return False", ""))
    failing = _plugin_file(tmp_path, "failing.py", _STUBS.replace(
        "def init(): return prep.SUCCESS",
        "def init(): raise RuntimeError('no license server')"))
    wrong_type = _plugin_file(tmp_path, "wrong.py", _STUBS.replace('"prep/stub"', '"sched/x"'))
    old = _plugin_file(tmp_path, "old.py", _STUBS + "plugin_version = 99\n")
    cases = {
        'plugins = ["nosuch"]':
            "corral start: prep plugin 'nosuch': not found: no builtin, 'corral.prep' entry "
            "point, module or file of that name\n",
        f'plugins = ["{missing}"]':
            f"corral start: prep plugin '{missing}': prep_p_required is missing (every PrEp "
            "function must exist: stub those the plugin does not need)\n",
        f'plugins = ["{failing}"]':
            f"corral start: prep plugin '{failing}': init failed: no license server\n",
        f'plugins = ["prep/script", "{wrong_type}"]':
            f"corral start: prep plugin '{wrong_type}': plugin_type 'sched/x' is not a PrEp "
            "plugin type (it must be 'prep/<name>')\n",
        f'plugins = ["{old}"]':
            f"corral start: prep plugin '{old}': plugin_version 99 does not match this "
            "corral's prep.VERSION 1\n",
        'prolog-slurmctld = "/nonexistent/ctld"':
            "corral start: prep plugin 'prep/script': init failed: Invalid "
            "PrologSlurmctld(`/nonexistent/ctld`): No such file or directory\n",
    }
    for prep_toml, expected in cases.items():
        assert _start_fails(tmp_path, prep_toml) == expected
    verbose = _start_fails(tmp_path, f'plugins = ["{failing}"]', "-v")
    assert f"corral.prep: INFO: prep: {failing}: init raised RuntimeError: no license " \
           "server\nTraceback (most recent call last):" in verbose


@pytest.mark.parametrize("flag, problem", [
    ("Contain", "'Contain' is not supported: corral does not contain jobs in cgroups yet"),
    ("RunInJob", "'RunInJob' is not supported: corral does not contain jobs in cgroups yet"),
    ("x11", "'X11' is not supported: corral does not contain jobs in cgroups yet"),
    ("Bogus", "unknown flag 'Bogus' (expected one of Alloc, DeferBatch, ForceRequeueOnFail, "
              "NoHold, Serial)"),
])
def test_flags_corral_cannot_honour_are_refused_and_unknown_ones_are_errors(tmp_path, flag,
                                                                           problem):
    stderr = _start_fails(tmp_path, f'flags = ["Alloc", "{flag}"]')
    assert stderr == f"corral start: {tmp_path}/bad.toml: prep.flags[1]: {problem}\n"


def test_prep_list_shows_the_plugins_in_order_with_type_version_and_required(
        prep_instance, tmp_path):
    plugin = PLUGINS / "async_thread.py"
    instance = prep_instance(f"""
        plugins = ["script", "{plugin}", "{PLUGINS / 'misbehave.py'}"]
        parameters = "async.record={tmp_path}"
        flags = ["DeferBatch", "Serial"]
    """)
    listing = instance.corral("prep", "list").stdout
    width = len(str(plugin))
    assert listing.splitlines() == [
        "NAME".ljust(width) + "  TYPE               VERSION  REQUIRED",
        "script".ljust(width) + "  prep/script        1        prolog,epilog",
        str(plugin) + "  prep/async_thread  1        prolog_slurmctld,epilog_slurmctld",
        str(PLUGINS / "misbehave.py").ljust(width) + "  prep/misbehave     -        -",
        "flags: Alloc,DeferBatch,Serial",
    ]


def test_an_async_python_plugin_reports_from_its_own_thread(corral_kit, tmp_path):
    """``(SUCCESS, True)`` makes the job wait for the callback, which comes from the plugin's
    thread; a failure it reports requeues the job; the controller epilog holds the job's
    ``clean`` until its callback; callbacks are registered once, ``fini`` runs at stop.  In
    the plugin test kit, where the threads' 0.3 s are real and take no virtual time (on an
    instance: the account gate example, test_prep_examples.py)."""
    kit = corral_kit(config=f"""
[prep]
plugins = ["{PLUGINS / 'async_thread.py'}"]
parameters = "async.record={tmp_path},async.delay=0.3"
requeue-delay = "10s"
""")
    started = time.monotonic()
    job_id = kit.submit()
    kit.wait(job_id)
    assert time.monotonic() - started >= 0.6  # both callbacks were waited for
    eventlog = names(kit, job_id)
    assert eventlog.index("start") > eventlog.index("prolog-finish")
    assert eventlog.index("clean") > eventlog.index("epilog-finish")
    assert len({event["timestamp"] for event in kit.eventlog(job_id)
                if event["name"] in ("alloc", "prolog-start", "prolog-finish", "start")}) == 1
    refused = kit.submit(setattr=["system.comment=refuse"])
    assert kit.wait(refused, "requeue")["context"] == {
        "reason": "PrologSlurmctld failed", "hold": False, "delay": 10.0}
    kit.cancel(refused)
    kit.wait(refused)
    assert kit.job(job_id)["result_name"] == "COMPLETED"
    assert (tmp_path / f"prolog.{job_id}").read_text() == "async-prolog\n"
    assert (tmp_path / f"epilog.{job_id}").read_text() == "async-epilog\n"
    assert (tmp_path / "registered").read_text() == "registered\n"
    kit.close()
    assert (tmp_path / "fini").read_text() == "fini\n"


def test_a_plugin_that_raises_is_a_failed_hook_and_never_a_failed_controller(
        prep_instance, tmp_path):
    """Node hooks that raise fail (drain, requeue); a controller prolog that raises only
    stops the chain (Slurm ignores a synchronous failure); a controller epilog that raises is
    logged. Each is logged with the plugin's name; the controller goes on serving."""
    plugin = PLUGINS / "misbehave.py"
    instance = prep_instance(f"""
        plugins = ["{plugin}"]
        parameters = "misbehave.raise=prolog_slurmctld:epilog_slurmctld:epilog"
    """, env={"MISBEHAVE_REQUIRED": "1"})
    with instance.client() as client:
        job_id = submit(client, ["true"], nnodes=2)
        wait(client, job_id)
        assert client.job(job_id)["result_name"] == "COMPLETED"
        assert drained(client) == {"node0": "Epilog error", "node1": "Epilog error"}
        log = dmesg(client)
        for hook in ("prep_p_prolog_slurmctld", "prep_p_epilog_slurmctld", "prep_p_epilog"):
            assert f"prep: {plugin}: {hook}(job {job_id}) raised RuntimeError: " in log
    instance.stop()
    node_prolog = prep_instance(f"""
        plugins = ["{plugin}"]
        parameters = "misbehave.raise=prolog"
    """, name="prolog.toml")
    with node_prolog.client() as client:
        job_id = submit(client, ["true"])
        assert wait(client, job_id, "requeue")["context"]["reason"] == \
            "launch failed requeued held"
        assert drained(client) == {"node0": "Prolog error"}
        assert client.rpc("instance.info")["nodes"] == 3


def test_required_gates_only_the_controller_prolog(prep_kit, tmp_path):
    """``prep_p_required`` false everywhere: ``prep_p_prolog_slurmctld`` is never called,
    the other three hooks are (Slurm consults only PREP_PROLOG_SLURMCTLD).  In the kit."""
    kit = prep_kit(f"""
        plugins = ["{PLUGINS / 'misbehave.py'}"]
        parameters = "misbehave.record={tmp_path}"
    """, nodes=1)
    job_id = kit.submit()
    kit.wait(job_id)
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.endswith(
        f".{job_id}")) == [f"epilog.{job_id}", f"epilog_slurmctld.{job_id}",
                           f"prolog.{job_id}"]


def test_a_synchronous_controller_hook_that_takes_long_is_logged(prep_instance, tmp_path):
    plugin = PLUGINS / "misbehave.py"
    instance = prep_instance(f"""
        plugins = ["{plugin}"]
        parameters = "misbehave.sleep=0.2"
        slow-hook-threshold = "50ms"
    """, test_size=1, env={"MISBEHAVE_REQUIRED": "1"})
    with instance.client() as client:
        job_id = submit(client, ["true"])
        wait(client, job_id)
        line = next(line for line in dmesg(client).splitlines() if "held the event loop" in line)
    assert f"prep: {plugin}: prep_p_prolog_slurmctld(job {job_id}) held the event loop for " \
        in line
    assert int(line.rsplit(" for ", 1)[1].split()[0]) >= 200


def _intervals(path) -> list[tuple[float, float]]:
    lines = path.read_text().split()
    starts = sorted(float(value) for tag, value in (line.split(":") for line in lines)
                    if tag == "start")
    ends = sorted(float(value) for tag, value in (line.split(":") for line in lines)
                  if tag == "end")
    return list(zip(starts, ends, strict=True))


@pytest.mark.parametrize("serial", [False, True], ids=["parallel", "Serial"])
def test_serial_runs_one_prolog_or_epilog_at_a_time_on_a_node(prep_instance, make_script,
                                                              tmp_path, serial):
    hook = make_script("hook", f"""
        echo start:$(date +%s.%N) >> {tmp_path}/hooks
        sleep 0.3
        echo end:$(date +%s.%N) >> {tmp_path}/hooks
    """)
    flags = '["Serial"]' if serial else "[]"
    instance = prep_instance(f'prolog = "{hook}"\nepilog = "{hook}"\nflags = {flags}',
                             test_size=1)
    with instance.client() as client:
        jobs = [submit(client, ["true"]) for _ in range(2)]
        for job_id in jobs:
            wait(client, job_id)
    intervals = _intervals(tmp_path / "hooks")
    assert len(intervals) == 4
    overlapping = any(later_start < earlier_end for (_s, earlier_end), (later_start, _e)
                      in zip(intervals, intervals[1:], strict=False))
    assert overlapping is not serial


def test_nohold_starts_tasks_on_a_node_once_its_own_prolog_is_done(prep_instance, make_script,
                                                                  tmp_path):
    """``NoHold``: no prolog-start/finish for node prologs (the job is not held for them),
    yet on each node the tasks start only after that node's prolog."""
    prolog = make_script("prolog", f"sleep 0.2\ntouch {tmp_path}/prolog.$SLURMD_NODENAME\n")
    instance = prep_instance(f'prolog = "{prolog}"\nflags = ["NoHold"]')
    with instance.client() as client:
        # One task per node, task rank k on node k.
        job_id = submit(client, ["sh", "-c", f"test -e {tmp_path}/prolog.node$CORRAL_TASK_RANK"],
                        nnodes=3)
        wait(client, job_id)
        assert names(client, job_id) == [
            "submit", "validate", "depend", "priority", "alloc", "start", "finish", "release",
            "free", "clean"]
        assert contexts(client, job_id, "finish") == [{"status": 0}]
    for node in ("node0", "node1", "node2"):
        assert (tmp_path / f"prolog.{node}").exists()


def test_without_prep_configuration_jobs_pay_nothing_for_it(make_instance):
    """The default ``prep/script`` without scripts: no prolog or epilog action, one release,
    no message to the nodes beyond the tasks (the lifecycle benchmark relies on it)."""
    instance = make_instance(test_size=2)
    with instance.client() as client:
        job_id = submit(client, ["true"], nnodes=2)
        wait(client, job_id)
        assert names(client, job_id) == [
            "submit", "validate", "depend", "priority", "alloc", "start", "finish", "release",
            "free", "clean"]
        assert client.rpc("prep.list")["plugins"][0]["plugin_type"] == "prep/script"


def test_removing_the_prep_builtin_stops_prep_for_new_jobs_only(prep_instance, make_script,
                                                                tmp_path):
    """``corral jobtap remove .prep``: a job in its epilog finishes it, later jobs run no
    hook and still give their nodes back; ``corral jobtap load .prep`` brings hooks back."""
    epilog = make_script("epilog", f"echo $SLURM_JOB_ID >> {tmp_path}/epilogs\nsleep 0.5\n")
    instance = prep_instance(f'epilog = "{epilog}"', test_size=1)
    with instance.client() as client:
        first = submit(client, ["true"])
        wait(client, first, "epilog-start")
        instance.corral("jobtap", "remove", ".prep")
        wait(client, first)
        plain = submit(client, ["true"])
        wait(client, plain)
        assert names(client, plain) == [
            "submit", "validate", "depend", "priority", "alloc", "start", "finish", "release",
            "free", "clean"]
        instance.corral("jobtap", "load", ".prep")
        last = submit(client, ["true"])
        wait(client, last)
        assert "epilog-finish" in names(client, last)
    assert (tmp_path / "epilogs").read_text().split() == [str(first), str(last)]


def test_in_the_kit_a_prep_plugin_that_raises_fails_the_test_naming_it(prep_kit):
    """The hook is still a failed hook (the node is drained, the job requeued held), and
    the test fails at the kit's next step, with the plugin's traceback."""
    plugin = PLUGINS / "misbehave.py"
    kit = prep_kit(f"""
        plugins = ["{plugin}"]
        parameters = "misbehave.raise=prolog"
    """, nodes=1)
    with pytest.raises(PluginFailure) as caught:
        kit.wait(kit.submit(), "requeue")
    message = str(caught.value)
    assert message.startswith(f"PrEp plugin {plugin} failed: prep_p_prolog(job 1) raised "
                              "RuntimeError: prolog broke on purpose\nTraceback")
    assert drained(kit) == {"node0": "Prolog error"}
    kit.advance(1)  # reported once
