"""Peers side by side: the same workloads on corral, a local Slurm and HyperQueue
(benchmark 5; optional: an absent peer is reported and skipped, never a failure).

Workloads, each timed from the first submission to the last job finished:

* bulk: N jobs of ``true`` on 1,024 declared cores.  corral runs them simulated
  (``exec.test.run_duration=0``, no process); neither peer has a process-less mode, so there
  they really run ``true``: the nearest equivalent, which favours corral, and is said so.
* real: N one-core ``/bin/true`` jobs on one node with (cores x 4) slots, on every system.
* submit latency: median wall time to submit one job, like for like: the command
  (``corral submit`` vs ``sbatch --wrap``) and the Python API (corral's ``client.submit`` vs
  HyperQueue's ``client.submit``, each on an open connection).

Bulk submission uses each system's own bulk path: corral's pipelined ``submit_many``,
Slurm job arrays (each element is a job), one HyperQueue job of N tasks.

Slurm: Debian's ``slurm-wlm`` (``slurmctld``, ``slurmd``, ``munged`` on PATH), one node on
loopback, run as root with a throw-away configuration and state directory; the node's CPU
count is declared (``SlurmdParameters=config_overrides``).  HyperQueue: the
``hyperqueue`` package (``pip install hyperqueue``, best in its own venv: ``--hq-python``),
whose ``LocalCluster`` runs one server and one worker with the given cores.  Throughput
ratios are corral / peer, latency ratios peer / corral: above 1, corral is ahead.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

from corral import jobspec  # noqa: E402


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def quiet(argv, **kwargs) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, **kwargs).stdout


# --- corral ---------------------------------------------------------------------------


class Corral:
    name = "corral"

    def __init__(self, work):
        self.work = work
        self.controller = None

    def start(self, cores: int):
        directory = self.work.sub(f"corral{cores}")
        config = common.write_config(directory, [("node0", f"0-{cores - 1}")])
        self.controller = common.Controller(os.path.join(directory, "state"), config)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()

    def bulk(self, njobs: int, simulated: bool) -> float:
        spec = jobspec.build(["/bin/true"], setattr=common.SIMULATED if simulated else ())
        with self.controller.client() as client:
            return common.run_until_clean(client, [spec] * njobs)["total_seconds"]

    def submit_latency(self, repeat: int) -> dict:
        argv = [*common.CORRAL, "submit", "/bin/true"]
        command = common.command_times(argv, repeat, self.controller.env())
        spec = jobspec.build(["/bin/true"])
        api = []
        with self.controller.client() as client:
            for _ in range(repeat):
                started = time.perf_counter()
                client.submit(spec)
                api.append(time.perf_counter() - started)
            client.rpc("job-manager.queue-drain")
        return {"command": common.median(command), "API": common.median(api)}


# --- Slurm ------------------------------------------------------------------------------


SLURM_CONF = """\
ClusterName=corralbench
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CryptoType=crypto/munge
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/slurmd
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
SchedulerParameters=default_queue_depth=100000,sched_min_interval=0,bf_interval=1
SlurmdParameters=config_overrides
ReturnToService=2
MaxArraySize=100001
MaxJobCount=300000
MinJobAge=2
SlurmctldDebug=error
SlurmdDebug=error
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cores} RealMemory=1000 State=UNKNOWN
PartitionName=bench Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
"""


class Slurm:
    name = "slurm"

    @staticmethod
    def missing() -> str | None:
        needed = ("slurmctld", "slurmd", "sbatch", "squeue", "munged")
        absent = [tool for tool in needed if shutil.which(tool) is None]
        if absent:
            return f"not installed ({', '.join(absent)} not on PATH; apt-get install slurm-wlm)"
        if os.geteuid() != 0:
            return "needs root to run slurmd on this machine"
        return None

    def __init__(self, work):
        self.work = work
        self.processes = []

    def start(self, cores: int):
        state = self.work.sub(f"slurm{cores}")
        for sub in ("ctld", "slurmd", "munge"):
            os.makedirs(os.path.join(state, sub), exist_ok=True)
        munge_socket = os.path.join(state, "munge", "munge.socket")
        key = os.path.join(state, "munge", "munge.key")
        with open(key, "wb") as file:
            file.write(os.urandom(1024))
        os.chmod(key, 0o400)
        self.processes.append(subprocess.Popen(
            ["munged", "--foreground", "--force", f"--socket={munge_socket}",
             f"--key-file={key}", f"--pid-file={state}/munge/munged.pid",
             f"--log-file={state}/munge/munged.log", f"--seed-file={state}/munge/seed"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_until(lambda: os.path.exists(munge_socket), 10, what="munged")
        conf = os.path.join(state, "slurm.conf")
        with open(conf, "w") as file:
            file.write(SLURM_CONF.format(ctld_port=free_port(), slurmd_port=free_port(),
                                         munge_socket=munge_socket, state=state, cores=cores))
        self.env = dict(os.environ, SLURM_CONF=conf)
        for daemon in ("slurmctld", "slurmd"):
            self.processes.append(subprocess.Popen(
                [daemon, "-D", "-f", conf], env=self.env, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        wait_until(self._node_idle, 60, 0.2, "the Slurm node to become idle")

    def _node_idle(self) -> bool:
        result = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env,
                                capture_output=True, text=True)
        return result.returncode == 0 and result.stdout.strip() == "idle"

    def stop(self):
        for process in reversed(self.processes):
            process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []

    def _pending(self) -> int:
        out = subprocess.run(["squeue", "-h", "-r", "-t", "PD,R,CG,CF", "-o", "%i"],
                             env=self.env, capture_output=True, text=True).stdout
        return len(out.split())

    def bulk(self, njobs: int, simulated: bool) -> float:
        started = time.perf_counter()
        quiet(["sbatch", "--quiet", f"--array=1-{njobs}", "-n1", "-c1", "--output=/dev/null",
               "--wrap=/bin/true"], env=self.env)
        wait_until(lambda: self._pending() == 0, 3600, 0.1, "Slurm jobs to finish")
        return time.perf_counter() - started

    def submit_latency(self, repeat: int) -> dict:
        argv = ["sbatch", "--quiet", "-n1", "--output=/dev/null", "--wrap=/bin/true"]
        times = common.command_times(argv, repeat, self.env)
        wait_until(lambda: self._pending() == 0, 600, 0.1, "Slurm jobs to finish")
        return {"command": common.median(times)}


# --- HyperQueue ---------------------------------------------------------------------------

# Run by the interpreter that has ``hyperqueue`` (the pip package embeds server and worker and
# has no ``hq`` command): one local cluster, one worker with CORES cpus; prints JSON.
HQ_DRIVER = """
import json, sys, time
from hyperqueue import Job
from hyperqueue.cluster import LocalCluster, WorkerConfig
cores, njobs, repeat = map(int, sys.argv[1:4])
with LocalCluster(server_dir=sys.argv[4], worker_config=WorkerConfig(cores=cores)) as cluster:
    client = cluster.client()
    time.sleep(1.0)  # let the worker register
    job = Job()
    for _ in range(njobs):
        job.program(["/bin/true"], stdout=None, stderr=None)
    started = time.perf_counter()
    client.wait_for_jobs([client.submit(job)])
    bulk = time.perf_counter() - started
    latency, submitted = [], []
    for _ in range(repeat):
        one = Job()
        one.program(["/bin/true"], stdout=None, stderr=None)
        started = time.perf_counter()
        submitted.append(client.submit(one))
        latency.append(time.perf_counter() - started)
    client.wait_for_jobs(submitted)
print(json.dumps({"bulk_seconds": bulk, "latency": latency}))
"""


class HyperQueue:
    name = "hyperqueue"
    python = os.environ.get("CORRAL_BENCH_HQ_PYTHON")  # an interpreter with hyperqueue

    @classmethod
    def missing(cls) -> str | None:
        candidates = [cls.python] if cls.python else [sys.executable]
        for python in candidates:
            try:
                found = subprocess.run([python, "-c", "import hyperqueue"], capture_output=True)
            except OSError as exc:
                return f"cannot run {python}: {exc.strerror or exc}"
            if found.returncode == 0:
                cls.python = python
                return None
        return ("not installed (no hyperqueue module; pip install hyperqueue into a venv and "
                "pass --hq-python VENV/bin/python or CORRAL_BENCH_HQ_PYTHON)")

    def __init__(self, work):
        self.work = work
        self.cores = None

    def start(self, cores: int):
        self.cores = cores

    def stop(self):
        pass

    def _drive(self, njobs: int, repeat: int) -> dict:
        server_dir = self.work.sub(f"hq{self.cores}-{njobs}")
        out = quiet([self.python, "-c", HQ_DRIVER, str(self.cores), str(njobs), str(repeat),
                     server_dir], timeout=3600)
        return json.loads(out.strip().splitlines()[-1])

    def bulk(self, njobs: int, simulated: bool) -> float:
        return self._drive(njobs, 1)["bulk_seconds"]

    def submit_latency(self, repeat: int) -> dict:
        return {"API": common.median(self._drive(1, repeat)["latency"])}


# --- the comparison -----------------------------------------------------------------------


def measure(system, bulk_jobs: int, real_jobs: int, slots: int, repeat: int) -> dict:
    simulated = system.name == "corral"
    try:
        system.start(1024)
        bulk = bulk_jobs / system.bulk(bulk_jobs, simulated)
    finally:
        system.stop()
    try:
        system.start(slots)
        real = real_jobs / system.bulk(real_jobs, False)
        latency = system.submit_latency(repeat)
    finally:
        system.stop()
    return {"bulk": bulk, "real": real, "latency": latency}


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("--hq-python", metavar="PYTHON",
                        help="an interpreter with the hyperqueue package (default: this one)")
    parser.add_argument("--bulk-jobs", type=int, default=None, help="bulk job count (10000)")
    parser.add_argument("--real-jobs", type=int, default=None, help="real job count (2000)")
    parser.add_argument("--peers", default="slurm,hyperqueue",
                        help="comma-separated peers to run (slurm, hyperqueue)")
    args = parser.parse_args()
    if args.hq_python:
        HyperQueue.python = args.hq_python
    bulk_jobs = args.bulk_jobs or (500 if args.quick else 10000)
    real_jobs = args.real_jobs or (200 if args.quick else 2000)
    repeat = 5 if args.quick else 20
    slots = (os.cpu_count() or 1) * 4
    report = common.Report("peers", args)

    with common.WorkDir(args, "peers") as work:
        report.section("baseline (same run)")
        spawn = common.spawn_rate(real_jobs)
        report.figure("raw spawn rate (posix_spawn + waitpid)", spawn, "proc/s")

        results = {}
        chosen = ["corral", *args.peers.split(",")]
        for system_class in (Corral, Slurm, HyperQueue):
            if system_class.name not in chosen:
                continue
            why = getattr(system_class, "missing", lambda: None)()
            if why:
                report.section(f"{system_class.name}: skipped, {why}")
                continue
            common.log(args, f"running {system_class.name} ...")
            try:
                results[system_class.name] = measure(system_class(work), bulk_jobs, real_jobs,
                                                      slots, repeat)
            except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as exc:
                detail = getattr(exc, "stderr", None) or exc
                report.section(f"{system_class.name}: failed to run: {str(detail).strip()}")
                if system_class is Corral:
                    raise
        ours = results["corral"]
        for name, figures in results.items():
            report.section(name)
            label = "simulated" if name == "corral" else "`true`, nearest equivalent"
            report.figure(f"bulk, {bulk_jobs:,} jobs on 1,024 cores ({label})", figures["bulk"],
                          "jobs/s")
            report.figure(f"real, {real_jobs:,} /bin/true on {slots} slots", figures["real"],
                          "jobs/s")
            report.figure("  / raw spawn rate", figures["real"] / spawn, "x")
            for kind, seconds in figures["latency"].items():
                report.figure(f"submit one job ({kind}), median", seconds * 1e3, "ms")
            if name != "corral":
                report.figure("corral / peer, bulk", ours["bulk"] / figures["bulk"], "x")
                report.figure("corral / peer, real", ours["real"] / figures["real"], "x")
                for kind, seconds in figures["latency"].items():
                    report.figure(f"peer / corral, submit latency ({kind})",
                                  seconds / ours["latency"][kind], "x", "above 1: corral faster")
    return report.finish()


if __name__ == "__main__":
    sys.exit(common.run(main))
