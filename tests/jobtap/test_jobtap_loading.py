"""Loading and control of plugins: flux-core checklist items 1-9 (t2212) and the loading
forms corral adds (a ``.py`` path, a module name, a ``corral.jobtap`` entry point, the search
path), the replay a plugin loaded at run time gets, and ``[job-manager] plugins``."""

import errno
import json
import textwrap

import pytest
from jobtap_helpers import (
    config_file,
    dmesg,
    events,
    json_lines,
    load,
    loaded,
    plugin,
    query,
    remove,
    rpc_error,
    submit,
    until,
    wait,
)

BUILTINS = [
    ".priority-default",
    ".limit-job-size",
    ".limit-duration",
    ".dependency-after",
    ".dependency-singleton",
    ".begin-time",
    ".validate-duration",
    ".update-duration",
    ".update-name",
    ".history",
    ".post-event",
    ".update-queue",
    ".prep",  # corral's own: the PrEp bridge, registered by the controller after Flux's
]


def test_builtins_load_in_flux_order_and_only_list_a_shows_them(instance):
    assert instance.corral("jobtap", "list").stdout == ""
    assert instance.corral("jobtap", "list", "-a").stdout.split() == BUILTINS


def test_unknown_builtin_fails_and_leaves_the_list_unchanged(instance):
    for name in (".foo", "builtin.foo"):
        result = instance.corral("jobtap", "load", name, check=False)
        assert (result.returncode, result.stderr) == (
            1, f"corral jobtap load: {name}: No such plugin found\n")
    with instance.client() as client:
        assert loaded(client) == BUILTINS
        assert rpc_error(load, client, ".foo").errno == errno.ENOENT


def test_plugin_management(instance):
    """Items 2-6: remove and reload a builtin, bad conf, remove of unknown names, remove all,
    several plugins, glob removal, duplicates, query."""
    args_path = plugin("load_order.py")
    ten_path = plugin("priority_ten.py")
    with instance.client() as client:
        remove(client, ".history")
        assert ".history" not in loaded(client)
        load(client, ".history")
        assert loaded(client)[-1] == ".history"

        error = rpc_error(load, client, ten_path, conf=1)
        assert (error.errno, error.strerror) == (
            errno.EINVAL, "jobtap: plugin conf must be a JSON object")

        error = rpc_error(remove, client, "notfound.py")
        assert (error.errno, error.strerror) == (errno.ENOENT, "Failed to find plugin to remove")
        remove(client, "all")  # never an error, even with nothing to remove
        assert loaded(client)[0] == ".priority-default"

        load(client, args_path)
        load(client, ten_path)
        assert loaded(client)[-2:] == ["load_order.py", "priority_ten.py"]
        error = rpc_error(load, client, ten_path)
        assert (error.errno, error.strerror) == (errno.EEXIST, "priority_ten.py already loaded")

        assert query(client, "priority_ten.py") == {"name": "priority_ten.py",
                                                    "path": ten_path}
        assert query(client, ".history") == {"name": ".history", "path": "builtin"}
        error = rpc_error(query, client, "foo")
        assert (error.errno, error.strerror) == (errno.ENOENT, "foo: plugin not found")

        remove(client, "load*")
        remove(client, "*")  # a glob never matches a builtin unless it starts with '.'
        history = BUILTINS.index(".history")
        assert loaded(client) == BUILTINS[:history] + BUILTINS[history + 1:] + [".history"]
        remove(client, ".h*")
        assert ".history" not in loaded(client)

    result = instance.corral("jobtap", "remove", "notfound.py", check=False)
    assert (result.returncode, result.stderr) == (
        1, "corral jobtap remove: notfound.py not found\n")
    result = instance.corral("jobtap", "query", "foo", check=False)
    assert (result.returncode, result.stderr) == (1, "corral jobtap query: foo not found\n")
    instance.corral("jobtap", "load", ten_path)
    assert json.loads(instance.corral("jobtap", "query", "priority_ten.py").stdout) == {
        "name": "priority_ten.py", "path": ten_path}
    instance.corral("jobtap", "load", "--remove=priority_ten.py", ten_path)
    assert instance.corral("jobtap", "list").stdout == "priority_ten.py\n"


def test_key_value_conf_reaches_the_plugin_as_nested_json(instance):
    """Item 8: ``foo.test=1`` is ``{"foo": {"test": 1}}``; values are JSON when they parse."""
    instance.corral("jobtap", "load", plugin("load_order.py"), "foo.test=1", "name=x",
                    "flag=true")
    with instance.client() as client:
        assert json_lines(dmesg(client), "load-order: conf=") == [
            {"foo": {"test": 1}, "name": "x", "flag": True}]


def test_conf_update_failure_blocks_the_load_with_a_human_message(tmp_path, make_instance):
    """Item 9: conf.update rejects the load; with a valid config the same plugin loads."""
    instance = make_instance()
    result = instance.corral("jobtap", "load", plugin("config_check.py"), check=False)
    assert (result.returncode, result.stderr) == (
        1, "corral jobtap load: Error parsing [testconfig]: testkey must be a string\n")
    assert instance.corral("jobtap", "list").stdout == ""

    good = config_file(tmp_path, '[testconfig]\ntestkey = "a string"\n')
    instance = make_instance(config=good)
    instance.corral("jobtap", "load", plugin("config_check.py"))
    assert instance.corral("jobtap", "list").stdout == "config_check.py\n"


def test_a_conf_update_that_raises_is_refused_naming_the_plugin(tmp_path, make_instance):
    raising = tmp_path / "raising.py"
    raising.write_text("def plugin_init(p):\n"
                       "    p.add_handler('conf.update', lambda p, topic, args: {}['key'])\n")
    instance = make_instance()
    result = instance.corral("jobtap", "load", str(raising), check=False)
    assert (result.returncode, result.stderr) == (
        1, "corral jobtap load: raising.py: conf.update raised KeyError: 'key'\n")
    assert instance.corral("jobtap", "list").stdout == ""
    job_id = instance.submit("true")
    instance.wait_inactive(job_id)
    with instance.client() as client:
        assert client.job(job_id)["result_name"] == "COMPLETED"


def test_plugins_load_from_the_configuration(tmp_path, make_instance):
    """Item 7: ``[job-manager] plugins`` entries run in order, remove before load."""
    conf = config_file(tmp_path, textwrap.dedent(f"""\
        [[job-manager.plugins]]
        remove = "all"

        [[job-manager.plugins]]
        load = "{plugin('priority_ten.py')}"

        [[job-manager.plugins]]
        remove = ".history"
        load = "{plugin('load_order.py')}"
        conf = {{ sort = "state" }}
        """))
    instance = make_instance(config=conf)
    assert instance.corral("jobtap", "list", "-a").stdout.split() == (
        [name for name in BUILTINS if name != ".history"]
        + ["priority_ten.py", "load_order.py"])
    with instance.client() as client:
        assert json_lines(dmesg(client), "load-order: conf=") == [{"sort": "state"}]
        job_id = submit(client)
        wait(client, job_id)
        assert client.job(job_id)["priority"] == 10


@pytest.mark.parametrize("text, message", [
    ('[job-manager]\nplugins = { load = "x.py" }\n', "must be an array of tables"),
    ("[[job-manager.plugins]]\nload = 42\n", "expected string, got integer"),
    ('[[job-manager.plugins]]\nremove = "notfound.py"\n', "Failed to find plugin to remove"),
    ('[[job-manager.plugins]]\nload = "notfound.py"\n', "notfound.py: No such plugin found"),
])
def test_malformed_plugin_configuration_stops_the_start(tmp_path, make_instance, text,
                                                        message):
    """Item 7's four malformed configurations.  corral words the first two its own way
    ("must be an array of tables", "expected string, got integer" where flux-core says
    "config must be an array", "expected string ... got integer"); see compatibility.md."""
    conf = config_file(tmp_path, text)
    with pytest.raises(RuntimeError) as failed:
        make_instance(config=conf)
    assert message in str(failed.value)
    assert "job-manager.plugins" in str(failed.value)


def _write_module(directory, name, set_name):
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.py").write_text(textwrap.dedent(f"""\
        def plugin_init(p):
            p.set_name("{set_name}")
            p.service_register("whoami", lambda h, msg: h.respond(msg, {{"path": p.path,
                                                                          "name": p.name}}))
        """))


def test_a_plugin_loads_by_module_name_entry_point_and_search_path(tmp_path, make_instance):
    """Besides builtins and paths, a module on the controller's sys.path, an
    entry point in the group ``corral.jobtap``, and a file found in ``CORRAL_JOBTAP_PATH``."""
    site = tmp_path / "site"
    _write_module(site, "corral_test_module", "bymodule")
    _write_module(site, "corral_test_entry", "byentry")
    dist_info = site / "corral_test_plugins-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: corral-test-plugins\n"
                                        "Version: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        "[corral.jobtap]\ntest-entry = corral_test_entry:plugin_init\n")
    search = tmp_path / "searchpath"
    _write_module(search, "searched", "bypath")
    instance = make_instance(env={"PYTHONPATH": str(site), "CORRAL_JOBTAP_PATH": str(search)})
    with instance.client() as client:
        load(client, "corral_test_module")
        load(client, "test-entry")
        load(client, "searched.py")
        assert loaded(client)[-3:] == ["corral_test_module", "test-entry", "searched.py"]
        assert client.rpc("job-manager.bymodule.whoami") == {
            "path": str(site / "corral_test_module.py"), "name": "bymodule"}
        assert client.rpc("job-manager.byentry.whoami")["path"] == str(
            site / "corral_test_entry.py")
        assert client.rpc("job-manager.bypath.whoami")["path"] == str(search / "searched.py")
        error = rpc_error(load, client, "no_such_module_here")
        assert (error.errno, error.strerror) == (
            errno.ENOENT, "no_such_module_here: No such plugin found")


def test_a_plugin_loaded_at_run_time_sees_existing_jobs_then_all_are_reprioritized(instance):
    """§3.2: replay of ``job.create``, ``job.new`` (and ``job.state.depend`` for DEPEND jobs)
    to the new plugin only, in its load sort order (item 27), then reprioritize-all."""
    with instance.client() as client:
        running = submit(client, run="60s")
        wait(client, running, "start")
        instance.corral("queue", "stop")
        held = submit(client, urgency=0)
        sched = submit(client)
        depend = submit(client, dependencies=[f"afterany:{running}"])
        wait(client, depend, "dependency-add")
        wait(client, sched, "priority")
        load(client, plugin("load_order.py"), conf={"sort": "-state"})
        seen = json_lines(dmesg(client), "load-order: seen ")
        assert seen == [
            {"topic": "job.create", "id": running, "state": 16},
            {"topic": "job.new", "id": running, "state": 16},
            {"topic": "job.create", "id": held, "state": 8},
            {"topic": "job.new", "id": held, "state": 8},
            {"topic": "job.create", "id": sched, "state": 8},
            {"topic": "job.new", "id": sched, "state": 8},
            {"topic": "job.create", "id": depend, "state": 2},
            {"topic": "job.new", "id": depend, "state": 2},
            {"topic": "job.state.depend", "id": depend, "state": 2},
        ]
        load(client, plugin("load_order.py"), conf={"sort": "state"},
             remove="load_order.py")
        again = json_lines(dmesg(client), "load-order: seen ")[len(seen):]
        assert [(item["id"], item["topic"]) for item in again] == [
            (depend, "job.create"), (depend, "job.new"), (depend, "job.state.depend"),
            (held, "job.create"), (held, "job.new"), (sched, "job.create"), (sched, "job.new"),
            (running, "job.create"), (running, "job.new")]
        load(client, plugin("priority_ten.py"))
        until(lambda: [e["context"]["priority"] for e in events(client, sched, "priority")]
              == [16, 10])
        assert client.job(held)["priority"] == 0  # a hold beats any plugin
        client.cancel(running)
        instance.corral("queue", "start")
        wait(client, depend)
        assert client.job(depend)["priority"] == 10


def test_plugins_from_the_configuration_see_jobs_again_at_restart(tmp_path, make_instance):
    """§3.3: plugins in ``[job-manager] plugins`` are loaded before the jobs are replayed and
    get ``job.create`` and ``job.new`` for each active job; a SCHED job goes back through
    PRIORITY (a ``restart`` event) so its priority is computed again."""
    conf = config_file(tmp_path, f'[[job-manager.plugins]]\nload = "{plugin("load_order.py")}"\n')
    instance = make_instance(config=conf)
    with instance.client() as client:
        job_id = submit(client, urgency=0)
        wait(client, job_id, "priority")
    instance.restart()
    with instance.client() as client:
        seen = json_lines(dmesg(client), "load-order: seen ")
        assert seen == [{"topic": "job.create", "id": job_id, "state": 8},
                        {"topic": "job.new", "id": job_id, "state": 8}]
        until(lambda: len(events(client, job_id, "priority")) == 2)
        assert [e["name"] for e in client.eventlog(job_id)][-2:] == ["restart", "priority"]
        client.set_urgency(job_id, 16)
        wait(client, job_id)
