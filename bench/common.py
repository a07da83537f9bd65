"""Shared helpers of the benchmarks: a controller started as a subprocess, the machine's own
baselines, statistics, and the table / JSON output every benchmark prints.

A benchmark starts its own instance (`Controller`) in a fresh state directory on disk, so the
figures include real store commits, and measures its baseline in the same run: a figure is
only ever compared with something this machine did a moment before.  Nothing here reaches
into the controller: everything goes through the client API, the CLI or ``/proc``.
"""

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from corral.client import Client, ConnectError, RPCError

#: The ``corral`` command installed beside this interpreter (a console script), as a user
#: would run it; ``python -m corral`` when there is none.
_SCRIPT = os.path.join(os.path.dirname(sys.executable), "corral")
CORRAL = [_SCRIPT] if os.access(_SCRIPT, os.X_OK) else [sys.executable, "-m", "corral"]

#: A job that "runs" for no time and starts no process (Flux's ``exec.test.run_duration``).
SIMULATED = ["exec.test.run_duration=0"]


# --- command line and output ------------------------------------------------------------


def run(main) -> int:
    """Run a benchmark's ``main``: Ctrl-C stops it with one line, once its work directory
    and the instances it started are gone (their context managers close on the way out)."""
    try:
        return main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--keep", action="store_true",
                        help="keep the state directories (their path is printed)")
    parser.add_argument("--workdir", metavar="DIR", default=None,
                        help="where state directories go (default /var/tmp: the disk)")
    parser.add_argument("--profile", metavar="DIR",
                        help="record every controller with py-spy into DIR (speedscope JSON "
                             "and a top-functions text file); slows the controller down")
    return parser


#: Set by `Controller` users through ``--profile``: where py-spy profiles go (None: off).
PROFILE_DIR: str | None = None


def machine() -> dict:
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_kib = 0
    with open("/proc/meminfo") as file:
        for line in file:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def corral_source() -> dict:
    """Which corral is measured: the package's directory and, when it sits in a git work
    tree, its commit and whether the tree had uncommitted changes to ``src/``."""
    import corral

    where = os.path.dirname(os.path.dirname(os.path.abspath(corral.__file__)))
    found = {"path": where}
    snapshot = os.path.join(where, "..", "COMMIT")
    if os.path.exists(snapshot):  # a copy made by run_all.sh
        with open(snapshot) as file:
            found.update(commit=file.read().strip(), dirty=False)
        return found
    try:
        commit = subprocess.run(["git", "-C", where, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", where, "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, check=True).stdout.strip()
        found.update(commit=commit, dirty=bool(dirty))
    except (OSError, subprocess.CalledProcessError):
        pass
    return found


class Report:
    """Figures (name, value, unit) and checks (target met or not), printed as a table or
    as JSON."""

    def __init__(self, benchmark: str, args):
        self.benchmark = benchmark
        self.args = args
        self.figures: list[dict] = []
        self.targets: list[dict] = []
        # With --json the table still goes out, on stderr, for the log.
        self.out = sys.stderr if args.json else sys.stdout
        global PROFILE_DIR
        PROFILE_DIR = os.path.abspath(args.profile) if args.profile else None
        print(f"corral from {corral_source()}", file=self.out, flush=True)

    def figure(self, name: str, value, unit: str = "", note: str = ""):
        self.figures.append({"name": name, "value": value, "unit": unit, "note": note})
        shown = f"{value:,.3f}" if isinstance(value, float) else f"{value:,}"
        if isinstance(value, float) and abs(value) >= 100:
            shown = f"{value:,.0f}"
        print(f"  {name:<48} {shown:>14} {unit:<8} {note}", file=self.out, flush=True)

    def target(self, name: str, met: bool, detail: str):
        self.targets.append({"name": name, "met": bool(met), "detail": detail})
        print(f"  [{'met' if met else 'MISSED'}] {name}: {detail}", file=self.out, flush=True)

    def section(self, title: str):
        print(f"\n{title}", file=self.out, flush=True)

    def finish(self):
        if self.args.json:
            json.dump({"benchmark": self.benchmark, "command": " ".join(sys.argv),
                       "quick": self.args.quick, "machine": machine(),
                       "corral": corral_source(),
                       "figures": self.figures, "targets": self.targets}, sys.stdout, indent=1)
            print()
        return 0 if all(t["met"] for t in self.targets) else 1


def log(args, text: str):
    """Progress on stderr, so that ``--json`` output stays clean."""
    print(text, file=sys.stderr if args.json else sys.stdout, flush=True)


# --- statistics ---------------------------------------------------------------------------


def median(values) -> float:
    return statistics.median(values)


def p95(values) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# --- the controller -----------------------------------------------------------------------


def write_config(directory: str, nodes: list[tuple[str, str]], extra: str = "") -> str:
    """A TOML config declaring ``[(hosts, cores)]`` as ``[[resource.config]]`` entries."""
    path = os.path.join(directory, "corral.toml")
    with open(path, "w") as file:
        for hosts, cores in nodes:
            file.write(f'[[resource.config]]\nhosts = "{hosts}"\ncores = "{cores}"\n\n')
        file.write(extra)
    return path


class Controller:
    """``corral start`` as a subprocess with its own state directory (on disk, under the
    benchmark's work directory), so its pid, memory and restart can be measured."""

    def __init__(self, state_dir: str, config: str | None = None, prefix=()):
        """``prefix``: a command that runs the controller (another network namespace) and
        execs it, so that the process started is the controller."""
        self.state_dir = state_dir
        self.config = config
        self.prefix = list(prefix)
        self.profiler: subprocess.Popen | None = None
        self.uri = f"local://{os.path.join(state_dir, 'local.sock')}"
        self.process: subprocess.Popen | None = None
        self.log_path = os.path.join(state_dir, "controller.log")

    def start(self, timeout: float = 120) -> float:
        """Start and wait until it answers; returns the seconds that took."""
        os.makedirs(self.state_dir, exist_ok=True)
        command = [*self.prefix, *CORRAL, "start", f"--state-dir={self.state_dir}"]
        if self.config:
            command.append(f"--config={self.config}")
        started = time.perf_counter()
        with open(self.log_path, "a") as log_file:
            self.process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"corral start exited with {self.process.returncode}:\n"
                                   + self.log())
            try:
                with Client(self.uri) as client:
                    client.rpc("instance.info")
                elapsed = time.perf_counter() - started
                self._start_profiler()
                return elapsed
            except (ConnectError, RPCError, OSError):
                time.sleep(0.01)
        raise RuntimeError(f"instance did not answer within {timeout} s:\n" + self.log())

    def _start_profiler(self):
        if PROFILE_DIR is None:
            return
        os.makedirs(PROFILE_DIR, exist_ok=True)
        name = os.path.basename(os.path.dirname(self.state_dir.rstrip("/"))) + "-" + str(self.pid)
        output = os.path.join(PROFILE_DIR, f"{name}.speedscope.json")
        py_spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable),
                                                         "py-spy")
        self.profiler = subprocess.Popen(
            [py_spy, "record", "--pid", str(self.pid), "--subprocesses", "--rate", "250",
             "--format", "speedscope", "--output", output], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # let it attach before the work starts

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self) -> Client:
        return Client(self.uri)

    def env(self) -> dict:
        return dict(os.environ, CORRAL_URI=self.uri)

    def log(self) -> str:
        with open(self.log_path) as file:
            return file.read()[-4000:]

    def memory_kib(self) -> dict:
        """VmRSS and VmHWM (peak) of the controller process, in KiB."""
        found = {}
        with open(f"/proc/{self.pid}/status") as file:
            for line in file:
                key = line.split(":", 1)[0]
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(line.split()[1])
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU time the controller has used so far."""
        return cpu_seconds(self.pid)

    def stop(self, timeout: float = 120) -> float:
        """SIGTERM and wait for exit; returns the seconds that took.  Node agents still
        running jobs outlive their controller (they wait for the next one): a benchmark's
        instance will have none, so they are stopped too."""
        if self.process is None:
            return 0.0
        agents = agent_pids(self.state_dir)
        started = time.perf_counter()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError("controller did not stop on SIGTERM") from None
        finally:
            self.process = None
            if self.profiler is not None:
                self.profiler.wait(60)
                self.profiler = None
            _stop_processes(agents)
        return time.perf_counter() - started


def _stop_processes(pids: list[int], timeout: float = 10):
    """SIGTERM each of ``pids`` still alive, and wait up to ``timeout`` for them to go."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(map(_alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Is ``pid`` running (not gone, nor a zombie its parent has not reaped)?"""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def agent_pids(state_dir: str) -> list[int]:
    """The node agent processes a persistent instance started (none when its agents run
    inside the controller)."""
    directory = os.path.join(state_dir, "agents")
    if not os.path.isdir(directory):
        return []
    pids = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".pid"):
            with open(os.path.join(directory, name)) as file:
                pids.append(int(file.read()))
    return pids


class WorkDir:
    """A temporary directory on disk (not tmpfs when /var/tmp is a disk), removed at exit
    unless ``--keep``."""

    def __init__(self, args, prefix: str):
        base = args.workdir or ("/var/tmp" if os.path.isdir("/var/tmp") else None)
        self.path = tempfile.mkdtemp(prefix=f"corral-bench-{prefix}-", dir=base)
        self.keep = args.keep
        if self.keep:
            log(args, f"state kept in {self.path}")

    def sub(self, name: str) -> str:
        path = os.path.join(self.path, name)
        os.makedirs(path, exist_ok=True)
        return path

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)


# --- driving jobs -------------------------------------------------------------------------


def commit_barrier(client: Client):
    """Return once everything the controller queued for its store so far is committed.

    A submit request is answered only after the store batch holding it commits, and the
    store commits in order; a request whose one job is refused before it gets an id leaves
    nothing behind, so it is a pure barrier.
    """
    answer = client.rpc("job-manager.submit", {"jobs": [{"jobspec": "barrier"}]})
    assert "errnum" in answer["jobs"][0], answer


def run_until_clean(client: Client, jobspecs: list) -> dict:
    """Submit ``jobspecs`` through the client API and wait until every one is inactive and
    its ``clean`` is on disk; the timings of that, from the first submit."""
    started = time.perf_counter()
    results = client.submit_many(jobspecs)
    submitted = time.perf_counter()
    refused = [r for r in results if not isinstance(r, int)]
    if refused:
        raise RuntimeError(f"{len(refused)} jobs refused, first: {refused[0]}")
    client.rpc("job-manager.queue-drain")
    commit_barrier(client)
    finished = time.perf_counter()
    return {"ids": results, "submit_seconds": submitted - started,
            "total_seconds": finished - started}


class Scraper:
    """Scrape the controller's ``[metrics]`` endpoint every ``interval`` seconds on a
    thread, as a Prometheus server would, until `stop` (which returns the scrape count)."""

    def __init__(self, client: Client, interval: float = 1.0):
        import threading

        self.url = client.rpc("instance.info")["metrics"]
        self.interval = interval
        self.count = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        import urllib.request

        while not self._stopped.wait(0 if self.count == 0 else self.interval):
            with urllib.request.urlopen(self.url, timeout=30) as response:
                response.read()
            self.count += 1

    def stop(self) -> int:
        self._stopped.set()
        self._thread.join()
        return self.count


def check_lifecycle(client: Client, job_id: int, expect_result: str = "COMPLETED") -> list[str]:
    """The event names of one finished job, after checking it ended as expected."""
    names = [event["name"] for event in client.eventlog(job_id)]
    if names[-1] != "clean":
        raise RuntimeError(f"job {job_id} did not end with clean: {names}")
    job = client.job(job_id)
    if job.get("result_name") != expect_result:
        raise RuntimeError(f"job {job_id} ended {job.get('result_name')}, not {expect_result}")
    return names


# --- the machine's baselines --------------------------------------------------------------


def spawn_rate(count: int, path: str = "/bin/true") -> float:
    """Processes per second this machine starts and reaps from Python, one at a time
    (``os.posix_spawn`` + ``waitpid``): the floor under any real execution."""
    argv = [path]
    env = {}
    started = time.perf_counter()
    for _ in range(count):
        pid = os.posix_spawn(path, argv, env)
        os.waitpid(pid, 0)
    return count / (time.perf_counter() - started)


def interleaved_times(commands: dict[str, list[str]], count: int, env: dict | None = None
                      ) -> dict[str, tuple[list[float], list[float]]]:
    """``{label: (wall-clock seconds, CPU seconds)}`` of ``count`` rounds that run each
    command once, in turn (each must exit 0).  On a shared machine the load changes from
    one minute to the next: commands measured in turn see the same load, and a process's
    own CPU time (user + system, from ``wait4``) hardly depends on it."""
    times = {label: ([], []) for label in commands}
    for _ in range(count):
        for label, argv in commands.items():
            started = time.perf_counter()
            process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            _pid, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode:
                raise subprocess.CalledProcessError(process.returncode, argv)
            times[label][0].append(time.perf_counter() - started)
            times[label][1].append(usage.ru_utime + usage.ru_stime)
    return times


def command_times(argv: list[str], count: int, env: dict | None = None) -> list[float]:
    """Wall-clock seconds of ``count`` sequential runs of ``argv`` (each must exit 0)."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times
