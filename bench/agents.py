"""Many agents: real ``/bin/true`` lifecycle throughput with 16 ``corral agent`` processes on
hosts of their own, against one local ``corral agent``, and the time from an agent's death
(``kill -9``) to its node being down.

Three instances with the same 32 one-core slots run the same N jobs, one after another, twice
(interleaved, so that a change of the machine's load shows in both): *in-process* (the node
agent inside the controller, one node of 32 cores), *one agent* (one ``corral agent`` over
``ipc://`` on this machine, one node of 32 cores) and *16 agents* (16 nodes of 2 cores, each
served by a ``corral agent`` in a network namespace of its own, over ``tcp://`` through a
bridge, the controller in another).  All on this machine's 2 cores: the 16 agents share them
with the controller, as they would not on 16 machines.  Then, with the 16 agents up, one agent
at a time is killed with SIGKILL and the time until ``corral resource list`` shows its node
``not responding`` (no new work) and ``node lost`` (its jobs failed) is measured, with the
documented clocks (heartbeat 2 s, 10 s, 30 s) and with short ones (0.2 s, 1 s, 2 s).

Target: 16 agents >= 80% of one agent's throughput.  Needs root and iproute2 (the hosts are
those of the tests, ``tests/nodes/netns.py``).
"""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "nodes"))
import common  # noqa: E402
import netns  # noqa: E402

from corral import jobspec  # noqa: E402
from corral.transport import keys  # noqa: E402

PORT = 7300
SLOTS = 32
AGENTS = 16
SHORT_CLOCKS = {"heartbeat-interval": 0.2, "unresponsive-after": 1.0, "lost-after": 2.0}
DEFAULT_CLOCKS = {"heartbeat-interval": 2.0, "unresponsive-after": 10.0, "lost-after": 30.0}


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Setup:
    """One instance of the benchmark: its controller and agents, started and stopped."""

    def __init__(self, work, name: str, agents: int, clocks=None):
        self.directory = work.sub(name)
        self.agents = agents
        self.clocks = clocks or DEFAULT_CLOCKS
        self.network = None
        self.processes: dict[str, subprocess.Popen] = {}
        self.key_dir = os.path.join(self.directory, "keys")

    def nodes(self) -> list[tuple[str, str]]:
        if self.agents <= 1:
            return [("node0", f"0-{SLOTS - 1}")]
        return [(f"node{rank}", f"0-{SLOTS // self.agents - 1}") for rank in range(self.agents)]

    def start(self):
        names = [name for name, _ in self.nodes()]
        extra = ""
        prefix = ()
        if self.agents:
            keys.create(self.key_dir, names)
            clocks = "".join(f"{key} = {value}\n" for key, value in self.clocks.items())
            if self.agents == 1:
                listen = endpoint = f"ipc://{self.directory}/agents.sock"
            else:
                self.network = netns.Network()
                controller_host = self.network.add_host("ctl")
                self.hosts = {name: self.network.add_host(name) for name in names}
                listen, endpoint = f"tcp://*:{PORT}", f"tcp://{controller_host.address}:{PORT}"
                prefix = self.network.command(controller_host, [])
            extra = f'[agents]\nlisten = "{listen}"\nkey-dir = "{self.key_dir}"\n{clocks}'
            self.endpoint = endpoint
        config = common.write_config(self.directory, self.nodes(), extra)
        self.controller = common.Controller(os.path.join(self.directory, "state"), config,
                                            prefix)
        self.controller.start()
        for name in names if self.agents else ():
            self.start_agent(name)
        with self.controller.client() as client:
            deadline = time.monotonic() + 60
            while any(node["drained"] for node in client.rpc("resource.list")["nodes"]):
                if time.monotonic() > deadline:
                    raise RuntimeError("agents did not register:\n" + self.controller.log())
                time.sleep(0.05)

    def start_agent(self, name: str):
        options = [f"--{key}={value}" for key, value in self.clocks.items()]
        argv = [*common.CORRAL, "agent", f"--connect={self.endpoint}",
                f"--key-dir={self.key_dir}", f"--hostname={name}", *options]
        with open(os.path.join(self.directory, f"agent-{name}.log"), "a") as log:
            if self.network is None:
                process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)
            else:
                process = self.network.spawn(self.hosts[name], argv, stdout=log,
                                             stderr=subprocess.STDOUT)
        self.processes[name] = process

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU seconds of the controller, and of all agents together, so far."""
        return (self.controller.cpu_seconds(),
                sum(cpu_seconds(process.pid) for process in self.processes.values()
                    if process.poll() is None))

    def stop(self):
        self.controller.stop()
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
            process.wait()
        if self.network is not None:
            self.network.close()


def throughput(setup: Setup, njobs: int) -> dict:
    spec = jobspec.build(["/bin/true"])
    with setup.controller.client() as client:
        before = setup.cpu_seconds()
        timing = common.run_until_clean(client, [spec] * njobs)
        after = setup.cpu_seconds()
        common.check_lifecycle(client, timing["ids"][-1])
        failed = [job["id"] for job in client.jobs()[-njobs:]
                  if job.get("result_name") != "COMPLETED"]
    if failed:
        raise RuntimeError(f"{len(failed)} jobs did not complete, e.g. {failed[:5]}")
    return {"rate": njobs / timing["total_seconds"],
            "controller_us": (after[0] - before[0]) / njobs * 1e6,
            "agents_us": (after[1] - before[1]) / njobs * 1e6}


def time_to_down(setup: Setup, name: str) -> tuple[float, float]:
    """Kill node ``name``'s agent with SIGKILL; seconds until its node is ``not responding``
    and ``node lost``.  Its agent is started again and waited for."""
    with setup.controller.client() as client:
        setup.processes[name].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        setup.processes[name].wait()
        seen = {}
        while "node lost" not in seen:
            node = next(node for node in client.rpc("resource.list")["nodes"]
                        if node["name"] == name)
            if node["drained"] and node["reason"] not in seen:
                seen[node["reason"]] = time.monotonic() - killed
            if time.monotonic() - killed > 120:
                raise RuntimeError(f"node {name} not lost 120 s after its agent died: {seen}")
            time.sleep(0.01)
        setup.start_agent(name)
        while any(node["drained"] for node in client.rpc("resource.list")["nodes"]):
            time.sleep(0.05)
    return seen.get("not responding", seen["node lost"]), seen["node lost"]


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("-n", "--jobs", type=int, default=None, help="job count (2000)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/agents.py needs root (network namespaces)", file=sys.stderr)
        return 1
    njobs = args.jobs or (300 if args.quick else 2000)
    rounds = 1 if args.quick else 2
    report = common.Report("agents", args)
    netns.remove_stale()
    kinds = [("in-process", 0), ("one agent (ipc://)", 1), (f"{AGENTS} agents (tcp://)", AGENTS)]
    results = {name: [] for name, _ in kinds}
    with common.WorkDir(args, "agents") as work:
        report.section(f"N = {njobs:,} one-core /bin/true jobs, {SLOTS} slots, "
                       f"{rounds} interleaved rounds")
        for round_ in range(rounds):
            for name, agents in kinds:
                setup = Setup(work, f"{agents}-{round_}", agents)
                setup.start()
                try:
                    results[name].append(throughput(setup, njobs))
                finally:
                    setup.stop()
                result = results[name][-1]
                report.figure(f"{name}, round {round_ + 1}", result["rate"], "jobs/s",
                              f"controller {result['controller_us']:,.0f} us/job, agents "
                              f"{result['agents_us']:,.0f} us/job")
        rates = {name: sum(r["rate"] for r in runs) / len(runs) for name, runs in results.items()}
        one, many = rates[kinds[1][0]], rates[kinds[2][0]]
        report.figure(f"{AGENTS} agents / one agent (means)", many / one, "x")
        report.figure("one agent / in-process (means)", one / rates[kinds[0][0]], "x")
        report.figure(f"{AGENTS} agents / in-process (means)", many / rates[kinds[0][0]], "x")

        report.section("an agent killed (SIGKILL) until its node is down")
        for label, clocks, samples in (("short clocks 0.2/1/2 s", SHORT_CLOCKS, 3 if args.quick
                                        else 5),
                                       ("default clocks 2/10/30 s", DEFAULT_CLOCKS, 1)):
            setup = Setup(work, f"kill-{clocks['lost-after']}", AGENTS, clocks)
            setup.start()
            try:
                times = [time_to_down(setup, f"node{rank + 1}") for rank in range(samples)]
            finally:
                setup.stop()
            report.figure(f"{label}: to 'not responding', median of {samples}",
                          common.median([t[0] for t in times]), "s",
                          f"max {max(t[0] for t in times):.2f}")
            report.figure(f"{label}: to 'node lost', median of {samples}",
                          common.median([t[1] for t in times]), "s",
                          f"max {max(t[1] for t in times):.2f}")

        report.section("targets")
        report.target(f"{AGENTS} agents >= 80% of one agent's throughput", many >= 0.8 * one,
                      f"{many / one:.0%} ({many:,.0f} vs {one:,.0f} jobs/s)")
    return report.finish()


if __name__ == "__main__":
    sys.exit(common.run(main))
