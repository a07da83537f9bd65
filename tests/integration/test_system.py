"""The system instance (``corral start --system``) under a temporary prefix: its paths, its
configuration directory, guests, one-line logs, the packaged systemd unit, and commands that
find it without ``CORRAL_URI``."""

import os
import pathlib
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile

import pytest

from corral.client import Client
from support import as_guest, until

pytestmark = pytest.mark.agent_processes  # jobs that outlive the controller

PLUGINS = pathlib.Path(__file__).resolve().parent.parent / "plugins"
#: What a service manager keeps: ``logger: LEVEL: message``, no colour, one line each.
LOG_LINE = re.compile(r"corral[\w.-]*: (DEBUG|INFO|WARNING|ERROR|CRITICAL): [^\x1b]*")


@pytest.fixture
def prefix():
    """A prefix that guests can search (as / is), removed afterwards."""
    path = tempfile.mkdtemp(prefix="corral-system-", dir="/tmp")
    os.chmod(path, 0o755)
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def environment(prefix) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "CORRAL_URI"}
    return dict(env, CORRAL_SYSTEM_PREFIX=str(prefix))


def corral(prefix, *args, check=True):
    result = subprocess.run([sys.executable, "-m", "corral", *map(str, args)],
                            env=environment(prefix), capture_output=True, text=True,
                            timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def unit_exec_start() -> list[str]:
    """The command line of the packaged unit's ``ExecStart``."""
    unit = subprocess.run([sys.executable, "-m", "corral", "start", "--print-unit"],
                          capture_output=True, text=True, check=True).stdout
    lines = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    assert len(lines) == 1 and "[Service]" in unit and "[Install]" in unit
    return shlex.split(lines[0].removeprefix("ExecStart="))


def test_print_unit_names_this_corral_and_the_system_instance():
    assert unit_exec_start() == [sys.executable, "-m", "corral", "start", "--system"]


def test_system_instance_as_its_unit_starts_it(prefix):
    (prefix / "etc/corral").mkdir(parents=True)
    (prefix / "etc/corral/plugins.toml").write_text(
        f'[job-manager]\nplugins = [{{ load = "{PLUGINS / "misbehave.py"}" }}]\n')
    socket_path = prefix / "run/corral/local.sock"
    log = open(prefix / "log", "w+")
    process = subprocess.Popen(unit_exec_start(), env=environment(prefix), stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        until(lambda: socket_path.exists() or process.poll() is not None, timeout=30)
        assert process.poll() is None, (prefix / "log").read_text()
        # Found without CORRAL_URI; state, socket and configuration where --system says.
        info = corral(prefix, "rpc", "instance.info").stdout
        assert f'"state_dir": "{prefix}/var/lib/corral"' in info
        assert f'"uri": "local://{socket_path}"' in info
        assert (prefix / "var/lib/corral/corral.db").exists()
        assert mode(prefix / "var/lib/corral") == 0o711  # guests reach the socket only
        assert mode(socket_path.parent) == 0o755
        assert corral(prefix, "jobtap", "list").stdout == "misbehave.py\n"
        assert corral(prefix, "run", "echo", "hi").stdout == "hi\n"
        # Guests are let in, and see only their own jobs.
        assert as_guest(f"local://{socket_path}",
                        lambda client: client.jobs(states=127)) == []
        # A traceback stays in one record, one line.
        job_id = int(corral(prefix, "submit", "-S", "misbehave=raise", "true").stdout)
        with Client(f"local://{socket_path}") as client:
            client.wait_event(job_id, "clean", 30)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
    assert code == 0
    assert not socket_path.exists()
    lines = (prefix / "log").read_text().splitlines()
    # Its node agent registers first (a process of its own, started by the controller).
    started = lines.index(f"corral: INFO: corral instance started at local://{socket_path} "
                          "with 1 nodes")
    assert any("transport: agent" in line and "registered" in line for line in lines[:started])
    assert all(LOG_LINE.fullmatch(line) for line in lines), lines
    raised = [line for line in lines if "callback raised RuntimeError" in line]
    assert len(raised) == 1 and " | Traceback (most recent call last): | " in raised[0]


def test_system_without_configuration_starts_with_defaults(prefix):
    result = subprocess.run([sys.executable, "-m", "corral", "start", "--system", "--",
                             sys.executable, "-m", "corral", "jobs", "-n", "-o", "{id}"],
                            env=environment(prefix), capture_output=True, text=True,
                            timeout=60)
    assert (result.returncode, result.stdout) == (0, "")
    assert (prefix / "var/lib/corral/corral.db").exists()
