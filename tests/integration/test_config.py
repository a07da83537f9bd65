"""Instances start from TOML configuration, and refuse a bad one with one precise line."""

import os
import subprocess
import sys


def start_with(config_path, tmp_path):
    return subprocess.run(
        [sys.executable, "-m", "corral", "start", f"--config={config_path}",
         f"--state-dir={tmp_path / 'state'}", "--", "true"],
        capture_output=True, text=True, timeout=60,
    )


def test_bad_value_names_file_key_and_problem(tmp_path):
    config = tmp_path / "access.toml"
    config.write_text('[access]\nallow-guest-user = "yes"\n')
    result = start_with(config, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"corral start: {config}: access.allow-guest-user: expected a boolean, got string"]


def test_toml_syntax_error_names_the_file(tmp_path):
    config = tmp_path / "broken.toml"
    config.write_text("[exec\nkill-timeout = 3\n")
    result = start_with(config, tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"corral start: {config}: ")
    assert "line 1" in lines[0]


def test_bad_resource_config_in_a_directory_names_the_file(tmp_path):
    directory = tmp_path / "conf.d"
    directory.mkdir()
    (directory / "a.toml").write_text("[exec]\nkill-timeout = \"2s\"\n")
    (directory / "b.toml").write_text('[[resource.config]]\nhosts = "n[0-1]"\ncores = "x"\n')
    result = start_with(directory, tmp_path)
    assert result.returncode == 1
    message = result.stderr.strip()
    assert message.startswith(f"corral start: {directory / 'b.toml'}: resource.config[0].cores:")
    assert "\n" not in message


def test_plugins_config_errors_stop_start_up(tmp_path):
    config = tmp_path / "plugins.toml"
    config.write_text('[job-manager]\nplugins = [ { load = "no-such-plugin.py" } ]\n')
    result = start_with(config, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"corral start: {config}: job-manager.plugins[0]: "
        "no-such-plugin.py: No such plugin found")
    raising = os.path.join(os.path.dirname(os.path.dirname(__file__)), "plugins",
                           "init_raises.py")
    config.write_text(f'[job-manager]\nplugins = [ {{ load = "{raising}" }} ]\n')
    result = start_with(config, tmp_path)
    assert (result.returncode, result.stderr) == (
        1, f"corral start: {config}: job-manager.plugins[0]: {raising}: plugin_init failed: "
           "RuntimeError: init failed on purpose\n")


def test_missing_config_path(tmp_path):
    result = start_with(tmp_path / "nope.toml", tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nope.toml" in result.stderr


def test_declared_resources_replace_the_machine(make_instance, tmp_path):
    config = tmp_path / "nodes.toml"
    config.write_text('[[resource.config]]\nhosts = "big[0-2]"\ncores = "0-15"\ngpus = "0-3"\n')
    inst = make_instance(config=config)
    listing = inst.corral("resource", "list").stdout.splitlines()
    assert listing[1:] == [
        f"{rank:>4} big{rank:<9} up             16/16       4/4  " for rank in range(3)]


def test_test_size_makes_nodes_sharing_the_machine(make_instance):
    inst = make_instance(test_size=3)
    ncores = len(os.sched_getaffinity(0))
    with inst.client() as client:
        nodes = client.rpc("resource.list")["nodes"]
    assert [node["name"] for node in nodes] == ["node0", "node1", "node2"]
    assert all(node["ncores"] == ncores for node in nodes)


def test_start_exits_with_the_commands_status(tmp_path):
    result = subprocess.run([sys.executable, "-m", "corral", "start", "--", "sh", "-c",
                             'test -n "$CORRAL_URI" && exit 7'], timeout=60)
    assert result.returncode == 7


def test_a_typo_in_any_table_stops_start_up_naming_file_key_and_the_keys(tmp_path):
    config = tmp_path / "typo.toml"
    for text, key, keys in (
            ("[access]\nallow-guest-users = true\n", "access.allow-guest-users",
             "allow-guest-user, max-connections, max-connections-per-user"),
            ('[exec]\nkill-timout = "3s"\n', "exec.kill-timout", "kill-timeout")):
        config.write_text(text)
        result = start_with(config, tmp_path)
        assert (result.returncode, result.stderr) == (
            1, f"corral start: {config}: {key}: unknown key (expected one of {keys})\n")


def test_a_node_script_pattern_that_matches_nothing_is_reported_at_start(tmp_path):
    config = tmp_path / "prep.toml"
    config.write_text(f'[prep]\nprolog = "{tmp_path}/prolog.d/*"\n')
    result = start_with(config, tmp_path)
    assert (result.returncode, result.stderr) == (
        0, f"corral.prep.script: WARNING: [prep] prolog: '{tmp_path}/prolog.d/*' matches no "
           "file: every node prolog fails until it does\n")


def test_a_node_script_that_cannot_be_run_is_reported_at_start(tmp_path):
    script = tmp_path / "prolog.sh"
    script.write_text("#!/bin/sh\nexit 0\n")  # not executable
    config = tmp_path / "prep.toml"
    config.write_text(f'[prep]\nprolog = "{script}"\n')
    result = start_with(config, tmp_path)
    assert (result.returncode, result.stderr) == (
        0, f"corral.prep.script: WARNING: [prep] prolog: {script}: Permission denied: every "
           "node prolog fails until it can be run\n")


def test_a_misspelt_table_is_a_warning_and_a_plugins_table_is_not(tmp_path):
    config = tmp_path / "tables.toml"
    config.write_text("[shced]\nqueue-depth = 3\n[limits]\nmax-active = 2\n")
    result = start_with(config, tmp_path)
    assert (result.returncode, result.stderr) == (
        0, f"corral.config_keys: WARNING: {config}: shced: not a corral table (did you mean "
           "[sched]?); only a plugin that reads it will see it\n")
