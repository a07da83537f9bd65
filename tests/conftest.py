"""Fixtures that start real corral instances for integration tests.

An instance is a real ``corral start`` process with its own state directory; tests drive it
through the CLI (``inst.corral(...)``) or the client API (``inst.client()``), and may stop,
kill (-9) and restart it on the same state directory.  This directory is put on ``sys.path``
(pytest runs with ``--import-mode=importlib``) so suites can share `support`.
"""

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.append(str(pathlib.Path(__file__).resolve().parent / "nodes"))

from corral.client import Client, ConnectError, RPCError


class RunningInstance:
    def __init__(self, state_dir, test_size=None, config=None, env=None,
                 agent_processes=False):
        """``agent_processes``: serve the node by a ``corral agent`` process, as a persistent
        instance does by default (its jobs outlive the controller); else inside the
        controller (``--agents=in-process``), which starts sooner: most tests are about
        anything but that."""
        self.agent_processes = agent_processes
        self.state_dir = str(state_dir)
        self.test_size = test_size
        self.config = str(config) if config is not None else None
        self.extra_env = env or {}
        self.uri = f"local://{os.path.join(self.state_dir, 'local.sock')}"
        self.process = None
        self.log_path = os.path.join(self.state_dir, "controller.log")

    def command(self):
        command = [sys.executable, "-m", "corral", "start", f"--state-dir={self.state_dir}",
                   "-v"]
        if self.test_size:
            command.append(f"--test-size={self.test_size}")
        if not self.agent_processes:
            command.append("--agents=in-process")
        if self.config:
            command.append(f"--config={self.config}")
        return command

    def start(self, timeout=20):
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)  # as private as corral keeps it
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                        env=dict(os.environ, **self.extra_env),
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"corral start exited with {self.process.returncode}:\n"
                                   + self.log())
            try:
                with Client(self.uri) as client:
                    client.rpc("instance.info")
                return self
            except (ConnectError, RPCError, OSError):
                time.sleep(0.05)
        raise RuntimeError("instance did not come up:\n" + self.log())

    def log(self) -> str:
        with open(self.log_path) as file:
            return file.read()

    def client(self) -> Client:
        return Client(self.uri)

    def env(self) -> dict:
        return dict(os.environ, CORRAL_URI=self.uri, **self.extra_env)

    def corral(self, *args, check=True, timeout=60, input=None):
        """Run the corral CLI against this instance; returns the CompletedProcess."""
        result = subprocess.run([sys.executable, "-m", "corral", *map(str, args)],
                                env=self.env(), capture_output=True, text=True,
                                timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"corral {' '.join(map(str, args))} exited "
                                 f"{result.returncode}:\n{result.stdout}{result.stderr}")
        return result

    def submit(self, *args) -> int:
        return int(self.corral("submit", *args).stdout.split()[-1])

    def wait_inactive(self, job_id, timeout=30):
        with self.client() as client:
            return client.wait_event(job_id, "clean", timeout)

    def dmesg(self) -> str:
        return self.corral("dmesg").stdout

    def stop(self, timeout=30):
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        finally:
            self.process = None
        return code

    def kill(self):
        """kill -9 the controller (its jobs' tasks are left behind, as after a crash)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def restart(self, config=None):
        """Stop and start again on the same state directory; with ``config``, on that
        configuration from then on, as an administrator edits it between two starts."""
        self.stop()
        if config is not None:
            self.config = str(config)
        return self.start()

    def stop_agents(self):
        """Stop the node agent processes a stopped or killed controller left running with
        its jobs (SIGTERM: they kill their tasks)."""
        for pid_file in pathlib.Path(self.state_dir, "agents").glob("*.pid"):
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass


class AgentsInstance(RunningInstance):
    """The same instance with each node served by a ``corral agent`` on a host of its own
    (network namespaces, `tests/nodes/netns.py`): the controller on host ``ctl`` listens on
    ``tcp://``, and the agents read the instance's configuration for their node hooks.  The
    nodes are those the instance would have on one machine (declared, ``--test-size``
    ``node0``..., or this machine's name), each with this machine's cores; `start` returns
    once every agent has registered, and a restarted controller gets the same agents back."""

    PORT = 7200

    def __init__(self, state_dir, test_size=None, config=None, env=None):
        import netns  # tests/nodes, on sys.path from here on

        super().__init__(state_dir, test_size, None, env)
        netns.remove_stale()
        self.network = netns.Network()
        try:
            self._lay_out(config, test_size)
        except BaseException:
            self.network.close()
            raise

    def _lay_out(self, config, test_size):
        from corral import config as config_module
        from corral import idset
        from corral.transport import keys

        self.controller_host = self.network.add_host("ctl")
        root = pathlib.Path(self.state_dir).parent / f"{pathlib.Path(self.state_dir).name}-hosts"
        # The instance's configuration plus the nodes, when it declares none.
        self.config = str(root / "config")
        os.makedirs(self.config)
        names = [node.name for node in config_module.resource_config(config_module.load(config))]
        # The agents read the instance's own file, as slurmd reads slurm.conf.
        self.node_config = os.path.abspath(config) if config is not None else None
        if config is not None:
            os.symlink(self.node_config, os.path.join(self.config, "instance.toml"))
        if not names:
            names = ([f"node{rank}" for rank in range(test_size)] if test_size
                     else [socket.gethostname()])
            cores = idset.encode(sorted(os.sched_getaffinity(0)))
            with open(os.path.join(self.config, "nodes.toml"), "w") as file:
                file.write(f'[[resource.config]]\nhosts = "{",".join(names)}"\n'
                           f'cores = "{cores}"\n')
        self.test_size = None
        self.key_dir = str(root / "keys")
        keys.create(self.key_dir, names)
        self.hosts = {name: self.network.add_host(name) for name in names}
        self.agents = {}

    def command(self):
        return self.network.command(self.controller_host, [
            *super().command(), f"--listen=tcp://*:{self.PORT}", f"--key-dir={self.key_dir}"])

    def start(self, timeout=20):
        super().start(timeout)
        endpoint = f"tcp://{self.controller_host.address}:{self.PORT}"
        env = dict(os.environ, **self.extra_env)
        for name, host in self.hosts.items():
            if name not in self.agents:
                with open(os.path.join(self.state_dir, f"agent-{name}.log"), "a") as log:
                    self.agents[name] = self.network.spawn(
                        host, [sys.executable, "-m", "corral", "agent", "-v",
                               f"--connect={endpoint}", f"--key-dir={self.key_dir}",
                               *([f"--config={self.node_config}"] if self.node_config else [])],
                        env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while any(node["reason"] == "agent not registered"
                      for node in client.rpc("resource.list")["nodes"]):
                if time.monotonic() > deadline:
                    raise RuntimeError("agents did not register:\n" + self.log())
                time.sleep(0.05)
        return self

    def close(self):
        """Stop the controller, then remove the hosts and what runs there."""
        self.stop()
        self.network.close()


@pytest.fixture
def placement(request):
    """Where ``make_instance``'s node agents run: ``"local"`` (in the controller's process,
    unless the module is marked ``agent_processes``), ``"processes"`` (a ``corral agent``
    process per node on this machine, as a persistent instance runs them by default) or
    ``"agents"`` (`AgentsInstance`, needs root); a suite parametrizes it to run unchanged
    on each."""
    return getattr(request, "param", "local")


@pytest.fixture
def make_instance(tmp_path, placement, request):
    """Start instances with options: ``make_instance(test_size=4, config=path)``.  In a
    module marked ``agent_processes`` (``pytestmark = pytest.mark.agent_processes``), their
    node agents are processes of their own, as a persistent instance's are by default; a
    test of that module marked ``agent_processes(False)`` keeps them in the controller."""
    started = []
    kind = AgentsInstance if placement == "agents" else RunningInstance
    marker = request.node.get_closest_marker("agent_processes")
    agent_processes = placement == "processes" or (marker is not None
                                                   and marker.args[:1] != (False,))
    if kind is AgentsInstance and os.geteuid() != 0:
        pytest.fail("instances with agents on hosts of their own need root")

    def make(test_size=None, config=None, env=None, state_dir=None):
        state = state_dir or tmp_path / f"state{len(started)}"
        instance = kind(state, test_size, config, env, agent_processes) \
            if kind is RunningInstance else kind(state, test_size, config, env)
        started.append(instance)
        return instance.start()

    yield make
    for instance in started:
        if isinstance(instance, AgentsInstance):
            instance.close()
        elif instance.process is not None:
            instance.stop()
        instance.stop_agents()


@pytest.fixture
def instance(make_instance):
    return make_instance()


@pytest.fixture
def guest_instance(make_instance):
    """``guest_instance(config_text="", env=None)``: an instance that guests may use, its
    socket in a directory they can reach, with ``[access] allow-guest-user = true`` plus
    ``config_text``, the controller's environment extended by ``env``."""
    made = []

    def make(config_text="", env=None):
        shared = tempfile.mkdtemp(prefix="corral-jobtap-", dir="/tmp")
        os.chmod(shared, 0o755)
        config = pathlib.Path(shared) / "guest.toml"
        config.write_text("[access]\nallow-guest-user = true\n" + config_text)
        instance = make_instance(state_dir=os.path.join(shared, "state"), config=config,
                                 env=env)
        made.append((shared, instance))
        return instance

    yield make
    for shared, instance in made:
        instance.stop()
        instance.stop_agents()
        shutil.rmtree(shared, ignore_errors=True)
