"""The pure parts of agent bootstrap: Slurm's CPU counts, the allocation's nodes, where agents
dial, and the command lines that start them; and the systemd unit shipped for the agent."""

import importlib.resources
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from corral import config as config_module
from corral.agent import bootstrap
from corral.transport import Settings


def test_cpus_per_node_expands_slurms_repeat_counts():
    assert bootstrap.cpus_per_node("4(x2),2") == [4, 4, 2]
    assert bootstrap.cpus_per_node("72") == [72]
    with pytest.raises(bootstrap.BootstrapError, match="not a list of counts like 4"):
        bootstrap.cpus_per_node("4x2")


def test_the_allocation_becomes_the_nodes_unless_some_are_declared(tmp_path):
    environ = {"SLURM_JOB_NODELIST": "n[1-2],big", "SLURM_JOB_CPUS_PER_NODE": "2(x2),8"}
    config = bootstrap.with_allocation_nodes(config_module.Config(), environ)
    assert [(node.name, node.cores) for node in config_module.resource_config(config)] == [
        ("n1", (0, 1)), ("n2", (0, 1)), ("big", tuple(range(8)))]
    declared = tmp_path / "c.toml"
    declared.write_text('[[resource.config]]\nhosts = "x"\ncores = "0"\n')
    config = config_module.load(declared)
    assert bootstrap.with_allocation_nodes(config, environ) is config
    with pytest.raises(bootstrap.BootstrapError, match="SLURM_JOB_NODELIST is not set"):
        bootstrap.allocation_nodes({})
    with pytest.raises(bootstrap.BootstrapError, match="names 1 nodes"):
        bootstrap.allocation_nodes({"SLURM_JOB_NODELIST": "a,b", "SLURM_JOB_CPUS_PER_NODE": "2"})


def test_agents_dial_the_listen_address_with_a_wildcard_named(tmp_path, monkeypatch):
    monkeypatch.setattr(bootstrap.socket, "getfqdn", lambda: "ctl.example")
    empty = config_module.Config()
    assert bootstrap.connect_address(empty, "tcp://*:7000") == "tcp://ctl.example:7000"
    assert bootstrap.connect_address(empty, "tcp://10.0.0.1:7000") == "tcp://10.0.0.1:7000"
    given = config_module.Config({"agents": {"connect": "tcp://front:7000"}})
    assert bootstrap.connect_address(given, "tcp://*:7000") == "tcp://front:7000"


def test_commands_for_ssh_and_srun():
    config = config_module.Config({"agents": {"ssh": ["ssh", "-p", "2222"]}, "resource": {
        "config": [{"hosts": "n[1-2]", "cores": "0"}]}})
    settings = Settings()
    ssh = bootstrap.commands("ssh", config, "tcp://h:7", "/k", settings, "/etc/c.toml")
    assert [(what, argv[:4]) for what, argv in ssh] == [
        ("n1", ["ssh", "-p", "2222", "n1"]), ("n2", ["ssh", "-p", "2222", "n2"])]
    remote = shlex.split(ssh[0][1][4])
    assert remote == ["exec", "corral", "agent", "--connect=tcp://h:7", "--key-dir=/k",
                      "--heartbeat-interval=2.0", "--unresponsive-after=10.0",
                      "--lost-after=30.0", "--config=/etc/c.toml", "--exit-on-eof",
                      "--hostname=n1"]
    with_socket = config_module.Config({"agents": {"socket": "/run/corral/agent.sock"},
                                        "resource": config.data["resource"]})
    [(_, argv), _] = bootstrap.commands("ssh", with_socket, "tcp://h:7", "/k", settings, None)
    assert "--socket=/run/corral/agent.sock" in shlex.split(argv[-1])
    [(what, srun)] = bootstrap.commands("slurm", config, "tcp://h:7", "/k", settings, None)
    assert what == "n[1-2]"
    assert srun[:8] == [*bootstrap.DEFAULT_SRUN, "--nodes=2", "--ntasks=2",
                        "--ntasks-per-node=1", "--nodelist=n[1-2]"][:8]
    assert srun[-3:-1] == ["sh", "-c"] and srun[-1].endswith('--hostname="$SLURMD_NODENAME"')
    bad = config_module.Config({"agents": {"ssh": []}})
    with pytest.raises(config_module.ConfigError, match="agents.ssh: must be a non-empty"):
        bootstrap.commands("ssh", bad, "tcp://h:7", "/k", settings, None)


def printed_unit() -> str:
    result = subprocess.run([sys.executable, "-m", "corral", "agent", "--print-unit"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_agent_unit_is_shipped_and_valid_for_systemd(tmp_path):
    """The package holds it, and ``systemd-analyze verify`` accepts what ``--print-unit``
    makes of it (ExecStart naming this Python's corral)."""
    shipped = (importlib.resources.files("corral") / "data" / "corral-agent.service").read_text()
    text = printed_unit()
    assert text == shipped.replace("@CORRAL@", f"{sys.executable} -m corral")
    unit = tmp_path / "corral-agent.service"
    unit.write_text(text)
    result = subprocess.run([shutil.which("systemd-analyze") or "systemd-analyze", "verify",
                             str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_agent_unit_runs_corral_agent_with_options_it_has(tmp_path):
    """Its ExecStart, with its default variables, is a ``corral agent`` command line that
    parses: it fails on the missing keys, not on an option."""
    text = printed_unit()
    variables = dict(re.findall(r"^Environment=(\w+)=(.*)$", text, re.M))
    [command] = re.findall(r"^ExecStart=(.*)$", text, re.M)
    argv = shlex.split(re.sub(r"\$\{(\w+)\}", lambda m: variables[m[1]], command))
    assert argv[:4] == [sys.executable, "-m", "corral", "agent"]
    assert "--socket" in argv and "/run/corral/local.sock" in argv
    argv = [arg.replace("/etc/corral", str(tmp_path)).replace("/run/corral", str(tmp_path))
            for arg in argv]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("corral agent: ") and "usage" not in result.stderr
