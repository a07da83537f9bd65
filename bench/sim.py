"""The simulator's speed: a 100,000-job trace through ``corral sim`` (benchmark 8).

The trace is Lublin-256 (tests/data) repeated ten times end to end, each copy's submit times
shifted past the previous copy's last submit, replayed with EASY on 256 cores by the real
command.  The figure is the command's wall time (interpreter start included) and the
summary's ``sim_seconds_per_wall_second``.

Target: 100,000 jobs in under 60 s.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

LUBLIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "tests", "data", "lublin_256.swf")
TARGET_SECONDS = 60.0


def repeated_trace(path: str, copies: int) -> int:
    """Write Lublin ``copies`` times into ``path``; returns the number of jobs."""
    records = []
    with open(LUBLIN) as stream:
        for line in stream:
            fields = line.split()
            if fields and not fields[0].startswith(";"):
                records.append(fields)
    span = max(int(fields[1]) for fields in records) + 1
    count = 0
    with open(path, "w") as out:
        out.write("; MaxProcs: 256\n")
        for copy in range(copies):
            for fields in records:
                count += 1
                shifted = [str(count), str(int(fields[1]) + copy * span), *fields[2:]]
                out.write(" ".join(shifted) + "\n")
    return count


def main():
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("--policy", default="easy", choices=("fcfs", "easy", "conservative"))
    args = parser.parse_args()
    copies = 1 if args.quick else 10
    report = common.Report("sim", args)
    with tempfile.TemporaryDirectory(prefix="corral-bench-sim-", dir=args.workdir) as where:
        trace = os.path.join(where, "trace.swf")
        jobs = repeated_trace(trace, copies)
        started = time.perf_counter()
        completed = subprocess.run(
            [*common.CORRAL, "sim", trace, "--cores", "256", "--queue-policy", args.policy,
             "--json"], capture_output=True, text=True)
        wall = time.perf_counter() - started
    if completed.returncode != 0:
        print(completed.stderr, file=sys.stderr)
        return 1
    summary = json.loads(completed.stdout)
    report.section(f"{jobs:,} jobs, {args.policy}, 256 cores")
    report.figure("wall time of corral sim", wall, "s")
    report.figure("jobs per wall second", jobs / wall, "jobs/s")
    report.figure("simulated seconds per wall second", summary["sim_seconds_per_wall_second"])
    report.figure("mean wait", summary["mean_wait"], "s")
    report.figure("utilization", summary["utilization"])
    if not args.quick:
        report.target("100,000 trace jobs in under 60 s", wall < TARGET_SECONDS, f"{wall:.1f} s")
    return report.finish()


if __name__ == "__main__":
    sys.exit(common.run(main))
