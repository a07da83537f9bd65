"""Submit from any node: ``corral`` commands on a host that runs an agent reach the
controller through the agent's local socket, as the uid the kernel names for the caller
(``SO_PEERCRED``), whatever the request says."""

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from corral import jobspec
from corral.client import Client, RPCError
from corral.transport import keys
from support import as_guest, connected, guest_user, raw_exchange, until, wait

PORT = 7200


@pytest.fixture
def node1(network, tmp_path):
    """A controller on host ``ctl`` that admits guests, and an agent on ``node1`` serving
    local commands at a socket guests can reach; ``(agent's URI, controller's client)``."""
    controller = network.add_host("ctl")
    node = network.add_host("node1")
    key_dir = tmp_path / "keys"
    keys.create(str(key_dir), ["node1"])
    shared = tempfile.mkdtemp(prefix="corral-forward-", dir="/tmp")
    os.chmod(shared, 0o755)
    config = os.path.join(shared, "corral.toml")
    with open(config, "w") as file:
        file.write('[access]\nallow-guest-user = true\n\n'
                   '[[resource.config]]\nhosts = "node1"\ncores = "0-1"\n')
    state_dir = os.path.join(shared, "state")
    socket_path = os.path.join(shared, "agent.sock")
    with open(tmp_path / "controller.log", "w") as log:
        network.spawn(controller, [sys.executable, "-m", "corral", "start", "-v",
                                   f"--config={config}", f"--state-dir={state_dir}",
                                   f"--key-dir={key_dir}", f"--listen=tcp://*:{PORT}"],
                      stdout=log, stderr=subprocess.STDOUT)
    with open(tmp_path / "agent.log", "w") as log:
        network.spawn(node, [sys.executable, "-m", "corral", "agent", f"--key-dir={key_dir}",
                             f"--connect=tcp://{controller.address}:{PORT}",
                             f"--socket={socket_path}"],
                      stdout=log, stderr=subprocess.STDOUT)
    client = until(lambda: connected(f"local://{state_dir}/local.sock"), timeout=20)
    until(lambda: not client.rpc("resource.list")["nodes"][0]["drained"], timeout=20)
    until(lambda: os.path.exists(socket_path), timeout=20)
    try:
        yield f"local://{socket_path}", client
    finally:
        client.close()
        shutil.rmtree(shared, ignore_errors=True)


def test_commands_on_a_node_work_through_its_agent(node1):
    uri, _ = node1
    result = subprocess.run([sys.executable, "-m", "corral", "run", "-N1", "hostname"],
                            env=dict(os.environ, CORRAL_URI=uri), capture_output=True,
                            text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "node1\n", "")


def test_a_guest_submitting_through_the_agent_owns_the_job_whatever_it_claims(node1):
    uri, client = node1
    guest = guest_user()
    spec = jobspec.build(["true"], cwd="/tmp")
    job = as_guest(uri, lambda guest_client: guest_client.submit(spec))
    assert client.job(job)["userid"] == guest.pw_uid
    wait(client, job)

    # The same request with the owner's uid and role written into it.
    def forged(guest_client):
        frame = {"matchtag": 1, "topic": "job-manager.submit", "userid": 0, "uid": 0,
                 "rolemask": 1, "cred": {"userid": 0}, "payload": {"jobs": [
                     {"jobspec": spec, "urgency": 16, "flags": 0, "userid": 0}]}}
        submitted = raw_exchange(guest_client, json.dumps(frame).encode())
        owner_only = raw_exchange(guest_client, json.dumps(
            {"matchtag": 2, "topic": "log.dmesg", "userid": 0, "rolemask": 1}).encode())
        return submitted, owner_only

    submitted, owner_only = as_guest(uri, forged)
    forged_job = submitted["payload"]["jobs"][0]["id"]
    assert client.job(forged_job)["userid"] == guest.pw_uid
    assert (owner_only["matchtag"], owner_only["errnum"]) == (2, errno.EPERM)
    wait(client, forged_job)
    # The owner's own requests through the agent are the owner's.
    with Client(uri) as owner:
        assert "lines" in owner.rpc("log.dmesg", {})
        with pytest.raises(RPCError, match="no service matches topic"):
            owner.rpc("no.such.topic")
