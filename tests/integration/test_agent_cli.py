"""``corral agent`` options of its own: a key directory that is missing or lacks a key, a
node-hook configuration that cannot load, a socket that cannot be served, and
``--exit-on-eof``; each with a real agent process (no controller
is needed: the agent retries until one listens)."""

import subprocess
import sys

from corral.transport import keys
from support import until


def agent(tmp_path, *options, stdin=subprocess.DEVNULL, timeout=30):
    key_dir = tmp_path / "keys"
    if not key_dir.exists():
        keys.create(str(key_dir), ["node1"])
    return subprocess.run([sys.executable, "-m", "corral", "agent", "--hostname=node1",
                           f"--connect=ipc://{tmp_path}/nobody.sock", f"--key-dir={key_dir}",
                           *options], stdin=stdin, capture_output=True, text=True,
                          timeout=timeout)


def test_a_missing_key_directory_or_key_file_is_named_in_one_line(tmp_path):
    missing = tmp_path / "missing"
    result = agent(tmp_path, f"--key-dir={missing}")
    assert (result.returncode, result.stderr.splitlines()) == (1, [
        f"corral agent: key directory {missing} does not exist (corral keygen makes it)"])
    empty = tmp_path / "empty"
    empty.mkdir()
    result = agent(tmp_path, f"--key-dir={empty}")
    assert (result.returncode, result.stderr.splitlines()) == (1, [
        f"corral agent: {empty}/controller.key does not exist (corral keygen makes it)"])
    other = tmp_path / "other"
    keys.create(str(other), ["node2"])
    result = agent(tmp_path, f"--key-dir={other}")
    assert (result.returncode, result.stderr.splitlines()) == (1, [
        f"corral agent: {other}/agents/node1.key_secret does not exist "
        f"(corral keygen --nodes node1 {other} makes it)"])


def test_a_prep_plugin_that_cannot_load_stops_the_agent_with_one_line(tmp_path):
    config = tmp_path / "corral.toml"
    config.write_text('[prep]\nplugins = ["prep/nonexistent"]\n')
    result = agent(tmp_path, f"--config={config}")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "corral agent: prep plugin 'prep/nonexistent': not found: no builtin, 'corral.prep' "
        "entry point, module or file of that name")


def test_a_socket_that_cannot_be_served_stops_the_agent_with_one_line(tmp_path):
    result = agent(tmp_path, f"--socket={tmp_path}/missing/agent.sock")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (f"corral agent: --socket {tmp_path}/missing/"
                                              "agent.sock: No such file or directory")


def test_exit_on_eof_stops_the_agent_cleanly_when_its_input_closes(tmp_path):
    # Closed from the start: it stops before it serves.
    result = agent(tmp_path, "--exit-on-eof")
    assert result.returncode == 0, result.stderr
    # Closed once it serves: a clean stop, which removes its socket.
    socket_path = tmp_path / "agent.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "corral", "agent", "--hostname=node1", "--exit-on-eof",
         f"--connect=ipc://{tmp_path}/nobody.sock", f"--key-dir={tmp_path}/keys",
         f"--socket={socket_path}"], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    until(socket_path.exists, timeout=20)
    process.stdin.close()
    assert process.wait(20) == 0, process.stderr.read()
    process.stderr.close()
    assert not socket_path.exists()


def test_connect_and_key_dir_are_required_with_one_line():
    result = subprocess.run([sys.executable, "-m", "corral", "agent", "--key-dir=/k"],
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stderr) == (
        1, "corral agent: --connect URI and --key-dir DIR are required\n")
