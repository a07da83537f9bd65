"""The transport between real processes on hosts in network namespaces: CURVE over tcp://,
refusals, a pulled cable during a burst, a stopped agent, and ipc:// on one host."""

import json
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

PEER = str(pathlib.Path(__file__).resolve().parent / "transport_peer.py")
PORT = 7100
#: Short clocks so that the tests take seconds: heartbeat, unresponsive, lost.
TIMING = ["--interval", "0.2", "--unresponsive", "1.5", "--lost", "3.0"]


class Peer:
    """A running transport_peer.py: its events as they come, its log, its commands."""

    def __init__(self, process, log_path):
        self.process = process
        self.log_path = log_path
        self.events = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            with self._changed:
                self.events.append(json.loads(line))
                self._changed.notify_all()

    def command(self, **command):
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def wait_for(self, predicate, timeout=15.0, what="an event"):
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} after {timeout} s; events "
                                         f"{self.events[-20:]}; log:\n{self.log()}")
                self._changed.wait(left)

    def messages(self) -> list[int]:
        with self._changed:
            return [event["message"] for event in self.events if "message" in event]

    def wait_messages(self, count, timeout=20.0):
        self.wait_for(lambda event: len(self.messages()) >= count, timeout,
                      f"{count} messages (have {len(self.messages())})")
        time.sleep(0.3)  # anything applied twice would arrive by now
        return self.messages()

    def log(self) -> str:
        return pathlib.Path(self.log_path).read_text()

    def log_lines(self, text) -> list[str]:
        return [line for line in self.log().splitlines() if text in line]


def start(network, host, role, endpoint, key_dir, tmp_path, *options) -> Peer:
    log_path = tmp_path / f"{host.hostname}-{role}-{len(network.processes)}.log"
    with open(log_path, "w") as log:
        process = network.spawn(
            host, [sys.executable, PEER, role, "--endpoint", endpoint, "--key-dir",
                   str(key_dir), *TIMING, *options],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    peer = Peer(process, log_path)
    peer.wait_for(lambda event: "ready" in event, what="start")
    return peer


def keygen(directory, nodes):
    subprocess.run([sys.executable, "-m", "corral", "keygen", str(directory), "-N", nodes],
                   check=True, capture_output=True)
    return directory


def agent_key_dir(directory, controller_keys, node_keys, node, as_node=None):
    """A node's key directory: the controller key of one set, the node's secret of another
    (``as_node``: filed under another node's name)."""
    (directory / "agents").mkdir(parents=True, mode=0o700)
    shutil.copy(controller_keys / "controller.key", directory)
    shutil.copy(node_keys / "agents" / f"{node}.key_secret",
                directory / "agents" / f"{as_node or node}.key_secret")
    return directory


@pytest.fixture
def cluster(network, tmp_path):
    """A controller host and two node hosts, with keys for node1 and node2."""
    controller = network.add_host("ctl")
    nodes = [network.add_host("node1"), network.add_host("node2")]
    keys = keygen(tmp_path / "keys", "node[1-2]")
    return controller, nodes, keys, f"tcp://{controller.address}:{PORT}"


def registered(host, event="registered"):
    return lambda e: e.get("registered") == host and e.get("event") == event


def test_messages_flow_both_ways_over_tcp_with_curve_between_hosts(network, cluster, tmp_path):
    controller_host, nodes, keys, endpoint = cluster
    controller = start(network, controller_host, "controller", f"tcp://*:{PORT}", keys,
                       tmp_path)
    agents = [start(network, node, "agent", endpoint, keys, tmp_path) for node in nodes]
    for node in nodes:  # each agent named itself after its own host's hostname
        controller.wait_for(registered(node.hostname), what=f"{node.hostname} registering")
    capture = network.capture(nodes[0])
    for node in nodes:
        controller.command(send=300, to=node.hostname)
    for agent in agents:
        agent.command(send=300)
        assert agent.wait_messages(300) == list(range(1, 301))
    assert sorted(controller.wait_messages(600)) == sorted(list(range(1, 301)) * 2)
    for node in nodes:
        from_node = [e["message"] for e in controller.events if e.get("host") == node.hostname]
        assert from_node == list(range(1, 301))
    # 600 messages crossed node1's cable, and not one word of them in the clear.
    wire = capture.stop()
    assert len(wire) > 600 * 40 and socket.inet_aton(nodes[0].address) in wire
    for word in (b"kill", b"finished", b"signal", b'"job"', b"node1"):
        assert word not in wire


def test_agent_with_a_key_the_controller_does_not_know_is_refused(network, cluster,
                                                                  tmp_path):
    controller_host, nodes, keys, endpoint = cluster
    strangers = keygen(tmp_path / "strangers", "node1")
    stranger_dir = agent_key_dir(tmp_path / "stranger", keys, strangers, "node1")
    controller = start(network, controller_host, "controller", f"tcp://*:{PORT}", keys,
                       tmp_path)
    agent = start(network, nodes[0], "agent", endpoint, stranger_dir, tmp_path)
    refused = agent.wait_for(lambda event: "refused" in event, what="a refusal")
    assert "key" in refused["refused"]
    assert agent.process.wait(10) == 1
    [line] = controller.log_lines("refused a connection")
    assert f"from {nodes[0].address}: its key is not among the agent keys in " \
           f"{keys}/agents" in line
    [line] = agent.log_lines("refused this agent")
    assert f"{stranger_dir}/agents/node1.key_secret" in line
    assert not [event for event in controller.events if "registered" in event]


def test_agent_refuses_a_peer_pretending_to_be_the_controller(network, cluster, tmp_path):
    controller_host, nodes, keys, endpoint = cluster
    impostor_keys = keygen(tmp_path / "impostor", "node1")
    impostor = start(network, controller_host, "controller", f"tcp://*:{PORT}",
                     impostor_keys, tmp_path)
    agent = start(network, nodes[0], "agent", endpoint, keys, tmp_path)
    agent.wait_for(lambda event: event.get("state") == "unresponsive",
                   what="the agent giving up on the impostor")
    [line] = agent.log_lines("CURVE handshake")  # once, though it keeps retrying
    assert f"with {endpoint} failed: the peer there does not hold the secret key of " \
           f"{keys}/controller.key" in line
    assert not agent.log_lines("registered with")
    assert not [event for event in impostor.events if "registered" in event]
    assert agent.messages() == []


def test_agent_presenting_another_nodes_key_is_refused(network, cluster, tmp_path):
    controller_host, nodes, keys, endpoint = cluster
    borrowed = agent_key_dir(tmp_path / "borrowed", keys, keys, "node1", as_node="node2")
    controller = start(network, controller_host, "controller", f"tcp://*:{PORT}", keys,
                       tmp_path)
    agent = start(network, nodes[1], "agent", endpoint, borrowed, tmp_path)
    refused = agent.wait_for(lambda event: "refused" in event, what="a refusal")
    reason = "it presented the key of node node1, not of node2"
    assert refused["refused"] == reason
    assert len(controller.log_lines(f"refused agent node2: {reason}")) == 1
    assert len(agent.log_lines(f"refused this agent: {reason}")) == 1


def test_agent_of_another_version_is_refused_with_the_reason_on_both_sides(
        network, cluster, tmp_path):
    controller_host, nodes, keys, endpoint = cluster
    controller = start(network, controller_host, "controller", f"tcp://*:{PORT}", keys,
                       tmp_path)
    agent = start(network, nodes[0], "agent", endpoint, keys, tmp_path, "--version", "0.0.1")
    refused = agent.wait_for(lambda event: "refused" in event, what="a refusal")
    assert refused["refused"].startswith("agent version 0.0.1 differs from controller version")
    assert len(controller.log_lines(f"refused agent node1: {refused['refused']}")) == 1
    assert len(agent.log_lines(f"refused this agent: {refused['refused']}")) == 1


def test_agent_beating_slower_than_the_controller_expects_is_refused_on_both_sides(
        network, cluster, tmp_path):
    controller_host, nodes, keys, endpoint = cluster
    controller = start(network, controller_host, "controller", f"tcp://*:{PORT}", keys,
                       tmp_path)
    agent = start(network, nodes[0], "agent", endpoint, keys, tmp_path,
                  "--interval", "2", "--unresponsive", "4", "--lost", "6")
    refused = agent.wait_for(lambda event: "refused" in event, what="a refusal")
    assert refused["refused"] == ("its heartbeat interval (2 s) is not shorter than the "
                                  "controller's [agents] unresponsive-after (1.5 s)")
    assert len(controller.log_lines(f"refused agent node1: {refused['refused']}")) == 1
    assert len(agent.log_lines(f"refused this agent: {refused['refused']}")) == 1


def test_cable_pulled_during_a_burst_loses_nothing_and_applies_nothing_twice(
        network, cluster, tmp_path):
    controller_host, nodes, keys, endpoint = cluster
    node = nodes[0]
    controller = start(network, controller_host, "controller", f"tcp://*:{PORT}", keys,
                       tmp_path)
    agent = start(network, node, "agent", endpoint, keys, tmp_path)
    controller.wait_for(registered("node1"))
    count = 600
    controller.command(send=count, to="node1", pace=0.005)
    agent.command(send=count, pace=0.005)
    agent.wait_for(lambda event: len(agent.messages()) >= 50, what="the burst under way")
    network.unplug(node)
    controller.wait_for(lambda event: event.get("state") == "unresponsive",
                        what="the agent unresponsive behind the pulled cable")
    time.sleep(0.5)  # ZeroMQ has closed the connection by now: what it held is gone
    network.plug(node)
    assert agent.wait_messages(count, timeout=30) == list(range(1, count + 1))
    assert controller.wait_messages(count, timeout=30) == list(range(1, count + 1))
    controller.wait_for(registered("node1", "reconnected"), what="the agent reconnecting")
    controller.wait_for(lambda event: event.get("state") == "alive")
    # What the cut connection held had to be sent again: the replay is what delivered it.
    assert any("; replayed" in line for line in controller.log_lines("node1 reconnected"))


def test_stopped_agent_turns_unresponsive_then_lost_and_comes_back_after_sigcont(
        network, cluster, tmp_path):
    controller_host, nodes, keys, endpoint = cluster
    controller = start(network, controller_host, "controller", f"tcp://*:{PORT}", keys,
                       tmp_path)
    agent = start(network, nodes[0], "agent", endpoint, keys, tmp_path)
    other = start(network, nodes[1], "agent", endpoint, keys, tmp_path)
    controller.wait_for(registered("node1"))
    controller.wait_for(registered("node2"))
    stopped = time.monotonic()
    agent.process.send_signal(signal.SIGSTOP)
    controller.wait_for(lambda event: event == {"state": "unresponsive", "host": "node1"})
    unresponsive = time.monotonic() - stopped
    controller.wait_for(lambda event: event == {"state": "lost", "host": "node1"})
    lost = time.monotonic() - stopped
    assert 1.3 <= unresponsive < lost and 2.8 <= lost < 8, (unresponsive, lost)
    controller.command(send=20, to="node1")  # kept for the stopped agent
    agent.process.send_signal(signal.SIGCONT)
    controller.wait_for(lambda event: event == {"state": "alive", "host": "node1"})
    assert agent.wait_messages(20) == list(range(1, 21))
    states = [event for event in controller.events if "state" in event]
    assert [event["state"] for event in states if event["host"] == "node1"] == \
           ["unresponsive", "lost", "alive"]
    assert not [event for event in states if event["host"] == "node2"]
    other.command(send=3)
    controller.wait_for(lambda event: event.get("host") == "node2" and "message" in event)


def test_heartbeats_and_messages_over_ipc_on_one_host(network, tmp_path):
    host = network.add_host("node1")
    keys = keygen(tmp_path / "keys", "node1")
    endpoint = f"ipc://{tmp_path}/agents.sock"
    controller = start(network, host, "controller", endpoint, keys, tmp_path)
    agent = start(network, host, "agent", endpoint, keys, tmp_path)
    controller.wait_for(registered("node1"))
    agent.command(send=50)
    controller.command(send=50, to="node1")
    assert controller.wait_messages(50) == list(range(1, 51))
    assert agent.wait_messages(50) == list(range(1, 51))
    agent.process.send_signal(signal.SIGSTOP)
    controller.wait_for(lambda event: event == {"state": "unresponsive", "host": "node1"})
    agent.process.send_signal(signal.SIGCONT)
    controller.wait_for(lambda event: event == {"state": "alive", "host": "node1"})
    controller.process.send_signal(signal.SIGSTOP)
    agent.wait_for(lambda event: event.get("state") == "unresponsive",
                   what="the agent noticing the stopped controller")
    controller.process.send_signal(signal.SIGCONT)
    agent.wait_for(lambda event: event.get("state") == "alive")


def test_a_second_agent_for_a_node_takes_it_over_and_the_first_is_refused(network, tmp_path):
    """Two agents claiming one node (one started by hand beside its service) must not take it
    from each other at every heartbeat, failing its jobs each time: the newer one serves it,
    and the one it replaced is refused when it says hello again."""
    host = network.add_host("node1")
    keys = keygen(tmp_path / "keys", "node1")
    endpoint = f"ipc://{tmp_path}/agents.sock"
    controller = start(network, host, "controller", endpoint, keys, tmp_path)
    first = start(network, host, "agent", endpoint, keys, tmp_path)
    controller.wait_for(registered("node1"))
    second = start(network, host, "agent", endpoint, keys, tmp_path)
    controller.wait_for(registered("node1", "restarted"))
    refused = first.wait_for(lambda event: "refused" in event, what="a refusal")
    assert refused["refused"].startswith("another agent (boot ")
    assert refused["refused"].endswith(") took node node1 over; a node has one agent at a time")
    assert first.process.wait(10) == 1
    time.sleep(1.0)  # five heartbeats: time for the two to have taken the node back and forth
    assert [event["event"] for event in controller.events if "registered" in event] == [
        "registered", "restarted"]
    second.command(send=5)
    assert controller.wait_messages(5) == list(range(1, 6))
