"""The web API and the metrics endpoint with 100,000 jobs in the instance.

An instance with 1,024 configured cores runs N simulated jobs to the end (they stay
inactive, as they would until purged), then ``corral web`` serves it on a Unix socket and
the controller serves ``[metrics]``.  Measured, one client at a time and then four at once:
requests per second and median latency for the first page of the job listing (100 jobs),
a page deep in it (offset N/2), one job, and a metrics scrape.  The controller's CPU per
request says what the API costs the instance itself.

Baseline in the same run: the same first page straight from the instance over its socket
(``job-list.list`` with ``max=100``), what the API adds on top.
"""

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

from corral import jobspec  # noqa: E402


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def rate(call, seconds: float, clients: int = 1) -> tuple[float, float]:
    """``(requests per second, median latency in ms)`` of ``call()`` repeated for about
    ``seconds`` by ``clients`` threads."""
    latencies = []
    deadline = time.perf_counter() + seconds

    def worker():
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, common.median(latencies) * 1000


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=None, help="jobs in the instance "
                        "(default 100000; --quick: 2000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    args = parser.parse_args()
    njobs = args.jobs or (2000 if args.quick else 100000)
    report = common.Report("web", args)
    spec = jobspec.build(["true"], setattr=common.SIMULATED)

    with common.WorkDir(args, "web") as work:
        directory = work.sub("instance")
        config = common.write_config(directory, [("node0", "0-1023")],
                                     '[metrics]\nlisten = "127.0.0.1:0"\n')
        controller = common.Controller(os.path.join(directory, "state"), config)
        controller.start()
        web = None
        try:
            with controller.client() as client:
                common.run_until_clean(client, [spec] * njobs)
                metrics_url = client.rpc("instance.info")["metrics"]
            socket_path = os.path.join(directory, "web.sock")
            web = subprocess.Popen([*common.CORRAL, "web", "--unix", socket_path],
                                   env=dict(os.environ, CORRAL_URI=controller.uri),
                                   stdout=subprocess.PIPE, text=True)
            web.stdout.readline()

            def get(path):
                def call():
                    connection = UnixHTTPConnection(socket_path)
                    connection.request("GET", path)
                    response = connection.getresponse()
                    response.read()
                    connection.close()
                    if response.status != 200:
                        raise RuntimeError(f"GET {path}: {response.status}")
                return call

            def scrape():
                with urllib.request.urlopen(metrics_url, timeout=60) as response:
                    response.read()

            direct = controller.client()
            calls = {
                "job listing, first page (100 jobs)": get("/api/v1/jobs?user=all&limit=100"),
                f"job listing, page at offset {njobs // 2:,}":
                    get(f"/api/v1/jobs?user=all&limit=100&offset={njobs // 2}"),
                "one job": get(f"/api/v1/jobs/{njobs // 2}"),
                "metrics scrape": scrape,
            }
            report.section(f"baseline: the instance's own socket, {njobs:,} jobs")
            per_second, latency = rate(
                lambda: direct.rpc("job-list.list", {"max": 100, "userid": -1}), args.seconds)
            report.figure("job-list.list max=100", per_second, "req/s")
            report.figure("  median latency", latency, "ms")
            for clients in (1, 4):
                report.section(f"{clients} client(s), {njobs:,} jobs in the instance")
                for name, call in calls.items():
                    cpu_before = controller.cpu_seconds()
                    per_second, latency = rate(call, args.seconds, clients)
                    cpu = controller.cpu_seconds() - cpu_before
                    report.figure(name, per_second, "req/s")
                    report.figure("  median latency", latency, "ms")
                    report.figure("  controller CPU per request",
                                  cpu / (per_second * args.seconds) * 1000, "ms")
            direct.close()
        finally:
            if web is not None:
                web.terminate()
                web.wait()
            controller.stop()
    return report.finish()


if __name__ == "__main__":
    sys.exit(common.run(main))
