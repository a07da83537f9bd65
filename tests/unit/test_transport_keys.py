"""``corral keygen`` and reading key material: modes, what is kept, what is refused."""

import os
import stat
import subprocess
import sys

import pytest

from corral.transport.keys import AgentKeys, ControllerKeys, KeyMaterialError


def keygen(*args):
    return subprocess.run([sys.executable, "-m", "corral", "keygen", *map(str, args)],
                          capture_output=True, text=True)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keygen_makes_one_key_pair_per_node_with_private_secrets(tmp_path):
    directory = tmp_path / "keys"
    result = keygen(directory, "-N", "node[1-3]")
    assert result.returncode == 0, result.stderr
    assert mode(directory) == 0o700 and mode(directory / "agents") == 0o700
    assert sorted(os.listdir(directory / "agents")) == sorted(
        f"node{n}.{kind}" for n in (1, 2, 3) for kind in ("key", "key_secret"))
    for secret in [directory / "controller.key_secret",
                   *(directory / "agents").glob("*.key_secret")]:
        assert mode(secret) == 0o600
    assert len(result.stdout.split()) == 8
    controller = ControllerKeys(str(directory))
    assert sorted(controller.accepted().values()) == ["node1", "node2", "node3"]
    node2 = AgentKeys(str(directory), "node2")
    assert node2.controller_public == controller.public
    assert {node2.public: "node2"}.items() <= controller.accepted().items()


def test_keygen_again_keeps_existing_keys_and_adds_new_nodes(tmp_path):
    directory = tmp_path / "keys"
    keygen(directory, "-N", "node1")
    before = (directory / "controller.key_secret").read_bytes()
    node1 = (directory / "agents" / "node1.key_secret").read_bytes()
    result = keygen(directory, "-N", "node[1-2]")
    assert result.returncode == 0
    assert result.stdout.split() == [str(directory / "agents" / "node2.key"),
                                     str(directory / "agents" / "node2.key_secret")]
    assert (directory / "controller.key_secret").read_bytes() == before
    assert (directory / "agents" / "node1.key_secret").read_bytes() == node1


def test_keygen_defaults_to_this_machines_hostname(tmp_path):
    assert keygen(tmp_path / "keys").returncode == 0
    assert (tmp_path / "keys" / "agents" / f"{os.uname().nodename}.key_secret").exists()


@pytest.mark.parametrize("nodes, message", [
    ("node[1-", "corral keygen: --nodes: invalid hostlist 'node[1-'"),
    ("controller", "corral keygen: 'controller' is not a usable node name"),
])
def test_keygen_refuses_bad_node_names_in_one_line(tmp_path, nodes, message):
    result = keygen(tmp_path / "keys", "-N", nodes)
    assert result.returncode == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert not (tmp_path / "keys").exists()


def test_a_secret_readable_by_others_is_refused(tmp_path):
    directory = tmp_path / "keys"
    keygen(directory, "-N", "node1")
    secret = directory / "agents" / "node1.key_secret"
    secret.chmod(0o644)
    with pytest.raises(KeyMaterialError) as error:
        AgentKeys(str(directory), "node1")
    assert str(error.value) == f"{secret} is accessible by other users (mode 644): make it 0600"


def test_missing_key_names_the_file_and_the_remedy(tmp_path):
    directory = tmp_path / "keys"
    keygen(directory, "-N", "node1")
    with pytest.raises(KeyMaterialError) as error:
        AgentKeys(str(directory), "node9")
    assert str(error.value) == (f"{directory}/agents/node9.key_secret does not exist "
                                f"(corral keygen --nodes node9 {directory} makes it)")


def test_a_removed_agent_key_is_no_longer_accepted(tmp_path):
    directory = tmp_path / "keys"
    keygen(directory, "-N", "node[1-2]")
    controller = ControllerKeys(str(directory))
    assert len(controller.accepted()) == 2
    (directory / "agents" / "node2.key").unlink()
    assert list(controller.accepted().values()) == ["node1"]
