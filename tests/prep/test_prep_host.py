"""The PrEp host: loading the plugin chain (prep_g_init) and calling it (prep_g_*)."""

import logging
import sys
import threading
import time
import types

import pytest

from corral import prep
from corral.prep import CallType
from corral.prep.config import PrepSettings
from corral.prep.host import PrepHost
from corral.prep.loader import FUNCTIONS, PrepError

JOB = prep.JobRecord(job_id=11, name="j", uid=0, gid=0, user_name="root", group_name="root",
                     work_dir="/")
JOB_ENV = prep.JobEnv(job_id=11, uid=0, gid=0, user_name="root", work_dir="/",
                      node_name="node0", node_list="node0")


@pytest.fixture
def calls():
    """The journal every test plugin writes ``(plugin, hook)`` into."""
    return []


@pytest.fixture
def plugin_module(monkeypatch, calls):
    """``plugin_module(name, **functions)``: an importable PrEp plugin module named ``name``
    whose functions record their calls in ``calls`` and succeed unless replaced."""

    def make(name, **overrides):
        module = types.ModuleType(name)
        module.plugin_name = f"test plugin {name}"
        module.plugin_type = f"prep/{name}"
        module.plugin_version = prep.VERSION

        def recorder(hook, result):
            def function(*args):
                calls.append((name, hook))
                return result
            return function

        for hook in FUNCTIONS:
            setattr(module, hook, recorder(hook, True if hook == "prep_p_required" else None))
        for key, value in overrides.items():
            if value is None:
                delattr(module, key)
            else:
                setattr(module, key, value)
        monkeypatch.setitem(sys.modules, name, module)
        return module

    return make


def make_host(plugins, deliver=None, controller=True, node=True, init=True, **settings):
    deliver = deliver if deliver is not None else (lambda *report: None)
    host = PrepHost(PrepSettings(plugins=tuple(plugins), **settings), controller=controller,
                    node=node, deliver=deliver if controller else None)
    if init:
        host.init()
    return host


def load_error(plugins, **options):
    with pytest.raises(PrepError) as caught:
        make_host(plugins, **options)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- loading -------------------------------------------------------------------------------


def test_without_plugins_configured_prep_script_is_loaded():
    host = make_host(PrepSettings().plugins)
    assert host.describe() == [{
        "name": "prep/script",
        "plugin_name": "Script PrEp plugin",
        "plugin_type": "prep/script",
        "plugin_version": prep.VERSION,
        "required": {"REGISTER_CALLBACKS": False, "PROLOG": True, "EPILOG": True,
                     "PROLOG_SLURMCTLD": False, "EPILOG_SLURMCTLD": False},
    }]


def test_the_configured_list_is_loaded_exactly_in_order_with_or_without_prefix(plugin_module,
                                                                               calls):
    plugin_module("alpha")
    plugin_module("beta")
    host = make_host(["prep/beta", "script", "alpha"])
    assert [entry["name"] for entry in host.describe()] == ["prep/beta", "script", "alpha"]
    assert [entry["plugin_type"] for entry in host.describe()] == [
        "prep/beta", "prep/script", "prep/alpha"]
    inits = [plugin for plugin, hook in calls if hook == "init"]
    assert inits == ["beta", "alpha"]


def test_an_empty_list_loads_nothing_and_every_hook_succeeds():
    host = make_host([])
    assert host.describe() == []
    assert not any(host.required(call_type) for call_type in CallType)
    assert host.prolog_slurmctld(JOB) == (prep.SUCCESS, 0)
    assert host.epilog_slurmctld(JOB) == (prep.SUCCESS, 0)
    assert host.prolog(JOB_ENV, None) == prep.SUCCESS
    assert host.epilog(JOB_ENV, None) == prep.SUCCESS


@pytest.mark.parametrize("missing", FUNCTIONS)
def test_every_function_must_exist(plugin_module, missing):
    plugin_module("partial", **{missing: None})
    assert load_error(["partial"]) == (
        f"prep plugin 'partial': {missing} is missing (every PrEp function must exist: stub "
        "those the plugin does not need)")


def test_identity_symbols_are_checked(plugin_module):
    plugin_module("noname", plugin_name=None)
    assert load_error(["noname"]) == "prep plugin 'noname': plugin_name is missing or not a string"
    plugin_module("jobtapish", plugin_type="jobtap/x")
    assert load_error(["jobtapish"]) == ("prep plugin 'jobtapish': plugin_type 'jobtap/x' is not "
                                         "a PrEp plugin type (it must be 'prep/<name>')")
    plugin_module("future", plugin_version=prep.VERSION + 1)
    assert load_error(["future"]) == (
        f"prep plugin 'future': plugin_version {prep.VERSION + 1} does not match this corral's "
        f"prep.VERSION {prep.VERSION}")
    plugin_module("uncallable", prep_p_prolog="not a function")
    assert load_error(["uncallable"]) == "prep plugin 'uncallable': prep_p_prolog is not callable"


def test_a_plugin_without_a_version_loads_into_any_version(plugin_module):
    plugin_module("ageless", plugin_version=None)
    assert make_host(["ageless"]).describe()[0]["plugin_version"] is None


def test_an_init_failure_stops_loading_and_unloads_the_plugins_before_it(plugin_module, calls):
    plugin_module("first")
    plugin_module("broken", init=lambda: prep.ERROR)
    plugin_module("never")
    assert load_error(["first", "broken", "never"]) == \
        "prep plugin 'broken': init failed (returned -1)"
    assert ("first", "fini") in calls
    assert not any(plugin == "never" for plugin, _hook in calls)


def test_an_init_exception_is_a_failure_with_its_message_and_traceback(plugin_module, caplog):
    def init():
        raise RuntimeError("no license server\nat all")

    plugin_module("raising", init=init)
    with caplog.at_level(logging.ERROR, "corral.prep"):
        assert load_error(["raising"]) == \
            "prep plugin 'raising': init failed: no license server at all"
    assert "Traceback" in caplog.text and "raising" in caplog.text


def test_an_unknown_name_says_where_it_was_looked_for():
    assert load_error(["prep/nosuchplugin"]) == (
        "prep plugin 'prep/nosuchplugin': not found: no builtin, 'corral.prep' entry point, "
        "module or file of that name")


def test_a_plugin_file_is_found_relative_to_the_configuration(tmp_path, calls):
    (tmp_path / "site.py").write_text(
        "from corral import prep\n"
        "plugin_name = 'site'\nplugin_type = 'prep/site'\n"
        + "".join(f"def {name}(*args):\n    return None\n" for name in FUNCTIONS))
    host = make_host(["site.py", f"prep/{tmp_path}/site.py"], conf_dir=str(tmp_path))
    assert [entry["plugin_name"] for entry in host.describe()] == ["site", "site"]


def test_a_plugin_file_that_fails_to_import_says_why(tmp_path):
    (tmp_path / "typo.py").write_text("import nosuchmodule_xyz\n")
    assert load_error(["typo.py"], conf_dir=str(tmp_path)) == (
        "prep plugin 'typo.py': import failed: ModuleNotFoundError: No module named "
        "'nosuchmodule_xyz'")
    assert load_error(["gone.py"], conf_dir=str(tmp_path)) == (
        f"prep plugin 'gone.py': not found: no such file {tmp_path / 'gone.py'}")


def test_a_module_on_the_path_is_imported(tmp_path, monkeypatch):
    (tmp_path / "corral_prep_site_mod.py").write_text(
        "plugin_name = 'mod'\nplugin_type = 'prep/mod'\n"
        + "".join(f"def {name}(*args):\n    return None\n" for name in FUNCTIONS))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "corral_prep_site_mod", raising=False)
    assert make_host(["corral_prep_site_mod"]).describe()[0]["plugin_name"] == "mod"


def test_an_entry_point_comes_before_a_module_of_the_same_name(tmp_path, monkeypatch,
                                                              plugin_module):
    plugin_module("health")
    package = tmp_path / "corral_prep_ep_impl.py"
    package.write_text("plugin_name = 'from entry point'\nplugin_type = 'prep/ep'\n"
                       + "".join(f"def {name}(*args):\n    return None\n"
                                 for name in FUNCTIONS))
    dist = tmp_path / "corral_prep_ep-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: corral-prep-ep\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[corral.prep]\nhealth = corral_prep_ep_impl\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    host = make_host(["prep/health"])
    assert host.describe()[0]["plugin_name"] == "from entry point"


# --- roles, callbacks and required() ---------------------------------------------------------


def test_callbacks_are_registered_only_where_the_controller_runs(plugin_module, calls):
    plugin_module("either")
    make_host(["either"], controller=False)
    assert ("either", "prep_p_register_callbacks") not in calls
    make_host(["either"], controller=True, node=False)
    assert calls.count(("either", "prep_p_register_callbacks")) == 1
    order = [hook for _plugin, hook in calls[calls.index(("either", "init"), 1):]]
    assert order[:2] == ["init", "prep_p_register_callbacks"]


def test_a_controller_host_needs_somewhere_to_deliver_callbacks():
    with pytest.raises(ValueError):
        PrepHost(PrepSettings(plugins=()), controller=True, node=True, deliver=None)


def test_required_answers_are_ored_and_kept_per_plugin(plugin_module):
    plugin_module("prologs", prep_p_required=lambda t: t == CallType.PROLOG)
    plugin_module("ctld", prep_p_required=lambda t: t == CallType.EPILOG_SLURMCTLD)
    host = make_host(["prologs", "ctld"])
    assert [host.required(t) for t in CallType] == [False, True, False, False, True]
    assert host.describe()[0]["required"]["PROLOG"] is True
    assert host.describe()[1]["required"]["PROLOG"] is False


def test_the_controller_prolog_runs_only_when_some_plugin_requires_it(plugin_module, calls):
    plugin_module("lazy", prep_p_required=lambda t: False)
    host = make_host(["lazy"])
    assert host.prolog_slurmctld(JOB) == (prep.SUCCESS, 0)
    assert ("lazy", "prep_p_prolog_slurmctld") not in calls
    # The epilog is not gated, as in Slurm.
    host.epilog_slurmctld(JOB)
    assert ("lazy", "prep_p_epilog_slurmctld") in calls
    plugin_module("eager", prep_p_required=lambda t: t == CallType.PROLOG_SLURMCTLD)
    make_host(["lazy", "eager"]).prolog_slurmctld(JOB)
    assert ("lazy", "prep_p_prolog_slurmctld") in calls  # once required, every plugin runs


def test_parameters_are_what_plugins_read():
    make_host([], parameters="health=strict,min_free_mb=10")
    assert prep.parameters() == "health=strict,min_free_mb=10"


# --- controller hooks ----------------------------------------------------------------------


def test_controller_hooks_run_in_order_and_count_every_promised_unit(plugin_module, calls):
    def hook(name, value):
        return lambda job: calls.append((name, job.job_id)) or value

    plugin_module("one", prep_p_prolog_slurmctld=hook("one", (prep.SUCCESS, True)))
    plugin_module("two", prep_p_prolog_slurmctld=hook("two", None))
    plugin_module("three", prep_p_prolog_slurmctld=hook("three", (prep.SUCCESS, 3)))
    host = make_host(["three", "one", "two"])
    assert host.prolog_slurmctld(JOB) == (prep.SUCCESS, 4)
    assert [entry for entry in calls if entry[1] == 11] == [("three", 11), ("one", 11),
                                                            ("two", 11)]
    assert host.epilog_slurmctld(JOB) == (prep.SUCCESS, 0)


def test_a_synchronous_failure_stops_the_chain_but_its_units_still_count(plugin_module, calls,
                                                                        caplog):
    plugin_module("async_fail", prep_p_epilog_slurmctld=lambda job: (prep.ERROR, True))
    plugin_module("after")
    host = make_host(["async_fail", "after"])
    with caplog.at_level(logging.WARNING, "corral.prep"):
        assert host.epilog_slurmctld(JOB) == (prep.ERROR, 1)
    assert ("after", "prep_p_epilog_slurmctld") not in calls
    assert ("prep: async_fail: prep_p_epilog_slurmctld(job 11) returned -1: the plugins after "
            "it are not called; a synchronous failure does not fail the job") in caplog.text


def test_a_controller_hook_exception_is_a_logged_failure(plugin_module, calls, caplog):
    def hook(job):
        raise KeyError("account")

    plugin_module("crashy", prep_p_prolog_slurmctld=hook)
    plugin_module("after")
    host = make_host(["crashy", "after"])
    with caplog.at_level(logging.ERROR, "corral.prep"):
        assert host.prolog_slurmctld(JOB) == (prep.ERROR, 0)
    assert "prep: crashy: prep_p_prolog_slurmctld(job 11) raised KeyError" in caplog.text
    assert "Traceback" in caplog.text
    assert ("after", "prep_p_prolog_slurmctld") not in calls


@pytest.mark.parametrize("value", ["0", (0,), (0, -1), (0, "yes"), 1.5, True])
def test_a_controller_hook_returning_nonsense_fails(plugin_module, caplog, value):
    plugin_module("odd", prep_p_prolog_slurmctld=lambda job: value)
    with caplog.at_level(logging.ERROR, "corral.prep"):
        assert make_host(["odd"]).prolog_slurmctld(JOB) == (prep.ERROR, 0)
    assert "expected rc or (rc, async_)" in caplog.text


def test_a_slow_synchronous_controller_hook_is_logged_with_its_duration(plugin_module, caplog):
    plugin_module("sluggish", prep_p_prolog_slurmctld=lambda job: time.sleep(0.05))
    host = make_host(["sluggish"], slow_hook_threshold=0.01)
    with caplog.at_level(logging.WARNING, "corral.prep"):
        host.prolog_slurmctld(JOB)
    (record,) = [r for r in caplog.records if "held the event loop" in r.getMessage()]
    message = record.getMessage()
    assert message.startswith("prep: sluggish: prep_p_prolog_slurmctld(job 11) held the event "
                              "loop for ")
    assert 50 <= int(message.split(" for ")[1].split()[0]) < 1000


def test_callbacks_deliver_from_any_thread_and_stop_after_fini(plugin_module, deliveries):
    stored = {}
    plugin_module("keeper", prep_p_register_callbacks=lambda cb: stored.update(callbacks=cb))
    host = make_host(["keeper"], deliver=deliveries)
    callbacks = stored["callbacks"]
    assert isinstance(callbacks, prep.Callbacks)
    thread = threading.Thread(target=lambda: (callbacks.prolog_slurmctld(256, 11),
                                              callbacks.epilog_slurmctld(9, 11, timed_out=True)))
    thread.start()
    thread.join()
    assert deliveries.wait(2) == [(CallType.PROLOG_SLURMCTLD, 256, 11, False),
                                  (CallType.EPILOG_SLURMCTLD, 9, 11, True)]
    with pytest.raises(TypeError):
        callbacks.prolog_slurmctld("0", 11)
    host.fini()
    callbacks.prolog_slurmctld(0, 11)
    assert len(deliveries.items) == 2


def test_a_deliver_failure_is_logged_not_raised_into_the_plugin(plugin_module, caplog):
    stored = {}

    def deliver(*report):
        raise RuntimeError("Event loop is closed")

    plugin_module("keeper", prep_p_register_callbacks=lambda cb: stored.update(callbacks=cb))
    make_host(["keeper"], deliver=deliver)
    with caplog.at_level(logging.ERROR, "corral.prep"):
        stored["callbacks"].epilog_slurmctld(0, 11)
    assert "callbacks.epilog_slurmctld(0, job 11) could not be delivered" in caplog.text


def test_fini_unloads_every_plugin_in_order_even_if_one_raises(plugin_module, calls, caplog):
    def fini():
        calls.append(("a", "fini"))
        raise OSError("socket gone")

    plugin_module("a", fini=fini)
    plugin_module("b")
    host = make_host(["a", "b"])
    with caplog.at_level(logging.ERROR, "corral.prep"):
        host.fini()
    assert [entry for entry in calls if entry[1] == "fini"] == [("a", "fini"), ("b", "fini")]
    assert "prep: a: fini raised OSError: socket gone" in caplog.text
    assert host.describe() == []


# --- node hooks ----------------------------------------------------------------------------


def test_node_hooks_run_in_order_and_the_first_non_zero_status_stops_them(plugin_module, calls):
    plugin_module("ok")
    plugin_module("fails", prep_p_prolog=lambda env, cred: calls.append(("fails", "prep_p_prolog"))
                  or 768)
    plugin_module("after")
    host = make_host(["ok", "fails", "after"])
    assert host.prolog(JOB_ENV, None) == 768
    assert [plugin for plugin, hook in calls if hook == "prep_p_prolog"] == ["ok", "fails"]
    assert host.epilog(JOB_ENV, None) == prep.SUCCESS


def test_a_node_hook_exception_or_bad_return_is_an_error(plugin_module, caplog):
    plugin_module("crashy", prep_p_epilog=lambda env, cred: 1 / 0)
    plugin_module("stringy", prep_p_prolog=lambda env, cred: "ok")
    host = make_host(["crashy", "stringy"])
    with caplog.at_level(logging.ERROR, "corral.prep"):
        assert host.epilog(JOB_ENV, None) == prep.ERROR
        assert host.prolog(JOB_ENV, None) == prep.ERROR
    assert "prep: crashy: prep_p_epilog(job 11) raised ZeroDivisionError" in caplog.text
    assert "prep: stringy: prep_p_prolog(job 11) returned 'ok', expected an int" in caplog.text


def run_two_prologs(host, node_names):
    """Run the prologs of two jobs at once, on the nodes named."""
    results = []
    threads = [threading.Thread(target=lambda job_id=job_id, node=node: results.append(
        host.prolog(prep.JobEnv(**{**JOB_ENV.to_dict(), "job_id": job_id, "node_name": node}),
                    None)))
        for job_id, node in zip((1, 2), node_names, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [prep.SUCCESS, prep.SUCCESS]


@pytest.fixture
def overlap_plugin(plugin_module):
    """A plugin whose prolog reports how many prologs run at once (holding 0.2 s each)."""
    lock = threading.Lock()
    state = {"running": 0, "most": 0}

    def prolog(job_env, cred):
        with lock:
            state["running"] += 1
            state["most"] = max(state["most"], state["running"])
        time.sleep(0.2)
        with lock:
            state["running"] -= 1
        return prep.SUCCESS

    plugin_module("overlap", prep_p_prolog=prolog)
    return state


def test_node_hooks_of_different_jobs_run_at_once(overlap_plugin):
    run_two_prologs(make_host(["overlap"]), ("node0", "node0"))
    assert overlap_plugin["most"] == 2


def test_serial_runs_one_hook_at_a_time_per_node(overlap_plugin):
    run_two_prologs(make_host(["overlap"], flags=frozenset({"Serial"})), ("node0", "node0"))
    assert overlap_plugin["most"] == 1


def test_serial_does_not_serialise_different_nodes(overlap_plugin):
    run_two_prologs(make_host(["overlap"], flags=frozenset({"Serial"})), ("node0", "node1"))
    assert overlap_plugin["most"] == 2


def test_scripts_without_prep_script_are_reported_as_never_running(plugin_module, caplog):
    plugin_module("alone")
    with caplog.at_level(logging.WARNING, "corral.prep"):
        make_host(["alone"], prolog=("/etc/prolog",))
    assert "scripts are configured but prep/script is not in [prep] plugins" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, "corral.prep"):
        make_host(["alone", "prep/script"], prolog=("/etc/prolog",))
    assert "not in [prep] plugins" not in caplog.text
