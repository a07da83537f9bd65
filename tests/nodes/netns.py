"""Hosts on this machine for tests: Linux network namespaces joined by veth pairs to a bridge.

Each `Host` is a network namespace with one interface, ``eth0``, at ``10.203.0.N/24``, whose
other end is a port of a bridge that lives in a switch namespace of its own.  Nothing is
added to this machine's own network namespace, so no test packet can reach or leave it.
Processes run in a host with their own hostname (``unshare --uts``), and `Network.close`
kills them and removes every namespace, pass or fail.

Names carry the creating process's id (``corral-test-PID-N-...``): concurrent runs never
collide, and `remove_stale` removes what a crashed run left behind.  Needs root and iproute2
(``ip``); `.ci/run` installs it where missing.
"""

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys

PREFIX = "corral-test-"
SUBNET = "10.203.0"
_STALE = re.compile(rf"{re.escape(PREFIX)}(\d+)-")
_networks = itertools.count()
#: Copies every frame that crosses one interface to stdout (run inside its namespace).
_SNIFFER = """
import socket, sys
sniffer = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL
sniffer.bind((sys.argv[1], 0))
print("listening", flush=True)
while True:
    sys.stdout.buffer.write(sniffer.recv(65536))
    sys.stdout.buffer.flush()
"""


def ip(*args, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def namespaces() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").stdout.splitlines() if line]


def remove_namespace(name: str):
    """Kill what still runs in namespace ``name``, then remove it (and its interfaces)."""
    for pid in ip("netns", "pids", name, check=False).stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    ip("netns", "del", name, check=False)


def remove_stale():
    """Remove the namespaces of test runs whose process is gone."""
    for name in namespaces():
        match = _STALE.match(name)
        if match and not os.path.exists(f"/proc/{match[1]}"):
            remove_namespace(name)


class Host:
    def __init__(self, hostname: str, namespace: str, address: str, port: str):
        self.hostname = hostname
        self.namespace = namespace
        self.address = address
        self.port = port  # its cable's end on the switch


class Capture:
    __slots__ = ("process",)

    def __init__(self, process):
        self.process = process

    def stop(self) -> bytes:
        """Everything that crossed the cable since the capture began."""
        self.process.terminate()
        return self.process.communicate()[0]


class Network:
    def __init__(self):
        if shutil.which("ip") is None:
            raise RuntimeError("the network tests need iproute2's ip command")
        self.tag = f"{PREFIX}{os.getpid()}-{next(_networks)}"
        self.switch = f"{self.tag}-switch"
        self.hosts: dict[str, Host] = {}
        self.processes: list[subprocess.Popen] = []
        ip("netns", "add", self.switch)
        try:
            ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            ip("-n", self.switch, "link", "set", "br0", "up")
        except RuntimeError:
            remove_namespace(self.switch)
            raise

    def add_host(self, hostname: str) -> Host:
        index = len(self.hosts) + 1
        host = Host(hostname, f"{self.tag}-{index}", f"{SUBNET}.{index}", f"port{index}")
        self.hosts[hostname] = host
        ip("netns", "add", host.namespace)
        ip("-n", host.namespace, "link", "set", "lo", "up")
        ip("-n", self.switch, "link", "add", host.port, "type", "veth", "peer", "name", "eth0",
           "netns", host.namespace)
        ip("-n", self.switch, "link", "set", host.port, "master", "br0")
        ip("-n", self.switch, "link", "set", host.port, "up")
        ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        ip("-n", host.namespace, "link", "set", "eth0", "up")
        return host

    def spawn(self, host: Host, argv, own_processes=False, **popen) -> subprocess.Popen:
        """Run ``argv`` in ``host``'s namespace under its hostname; the process is the
        command itself (ip, unshare and sh all exec), so signals reach it directly.
        ``own_processes``: in a PID namespace of its own too, so that it sees only its own
        processes in /proc, as on a machine of its own (the process is then ``unshare``,
        whose death kills the command)."""
        command = self.command(host, argv, own_processes)
        process = subprocess.Popen(command, start_new_session=True, **popen)
        self.processes.append(process)
        return process

    @staticmethod
    def command(host: Host, argv, own_processes=False) -> list[str]:
        """The command line that runs ``argv`` in ``host`` (see `spawn`), for a caller that
        starts the process itself."""
        isolation = ["--pid", "--fork", "--mount-proc", "--kill-child"] if own_processes \
            else []
        return ["ip", "netns", "exec", host.namespace, "unshare", "--uts", *isolation, "--",
                "sh", "-c", 'hostname "$1" && shift && exec "$@"', "sh", host.hostname, *argv]

    def unplug(self, host: Host):
        """Pull ``host``'s cable: its switch port goes down, packets stop both ways."""
        ip("-n", self.switch, "link", "set", host.port, "down")

    def plug(self, host: Host):
        ip("-n", self.switch, "link", "set", host.port, "up")

    def capture(self, host: Host) -> "Capture":
        """Record every frame on ``host``'s cable, both ways, until `Capture.stop`."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.switch, sys.executable, "-c", _SNIFFER, host.port],
            stdout=subprocess.PIPE, start_new_session=True)
        self.processes.append(process)
        process.stdout.readline()  # "listening": nothing is missed from here on
        return Capture(process)

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        for host in self.hosts.values():
            remove_namespace(host.namespace)
        remove_namespace(self.switch)
