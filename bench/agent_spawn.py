"""The node agent alone: start requests to ``finished``, as the agent's own CPU sees them.

One `NodeAgent` in this process, fed signed ``start`` requests for one-core ``/bin/true``
jobs (output kept with the job, as by default) on (this machine's cores x 4) slots, a new
one each time one finishes, with this process's environment as a submitter's (the one
read-only mapping the agent's transport gives every start naming it, `transport.shared`);
its answers go nowhere.  No controller, no transport: what is
left is what the agent does for a task (identity, working directory, pipes, the spawn, the
pidfd, the reap), which `realexec.py` measures only mixed with the rest.  Run once with jobs
of the agent's own user and, as root, once with jobs of another user (the identity change
for every task).  Baseline in the same run: the raw spawn rate.
"""

import asyncio
import os
import pwd
import sys
import time
from types import MappingProxyType

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

from corral.exec.agent import NodeAgent  # noqa: E402
from corral.prep.cred import CredentialKey  # noqa: E402

#: The user whose jobs the second run starts (the test suite's guest, made when missing).
OTHER_USER = "corral-guest"


async def agent_rate(njobs: int, slots: int, userid: int, output_dir: str) -> tuple:
    """``(jobs/s, agent CPU seconds per job)`` for ``njobs`` jobs of ``userid``."""
    loop = asyncio.get_running_loop()
    key = CredentialKey()
    cpus = sorted(os.sched_getaffinity(0))
    done = loop.create_future()
    counts = {"sent": 0, "finished": 0}

    def send(message):
        if message["type"] != "finished":
            return
        counts["finished"] += 1
        if counts["finished"] == njobs:
            done.set_result(None)
        elif counts["sent"] < njobs:
            start()

    agent = NodeAgent(loop, 0, "node0", send, None, key)
    # A submitter's environment, as the agent's transport hands it to every start naming it.
    env = MappingProxyType(dict(os.environ))

    def start():
        job_id = counts["sent"] = counts["sent"] + 1
        message = {"type": "start", "job": job_id, "userid": userid, "rank": 0,
                   "command": ["/bin/true"], "cwd": "/tmp", "env": env,
                   "job_vars": {"CORRAL_JOB_ID": str(job_id), "CORRAL_JOB_SIZE": "1",
                                "CORRAL_JOB_NNODES": "1", "CORRAL_JOB_NODELIST": "node0",
                                "CORRAL_URI": "local:///tmp/corral"},
                   "stdout": os.path.join(output_dir, f"{job_id}.out"),
                   "stderr": os.path.join(output_dir, f"{job_id}.err"),
                   "kept": ["stdout", "stderr"],
                   "tasks": [{"rank": 0, "cores": [cpus[job_id % len(cpus)]], "gpus": []}]}
        message["token"] = key.launch_token(message)
        agent.handle(message)

    before = os.times()
    started = time.perf_counter()
    for _ in range(min(slots, njobs)):
        start()
    await done
    elapsed = time.perf_counter() - started
    after = os.times()
    cpu = after.user + after.system - before.user - before.system
    return njobs / elapsed, cpu / njobs


def other_user() -> int | None:
    """The uid of `OTHER_USER` (created when missing); None unless this runs as root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(OTHER_USER).pw_uid
    except KeyError:
        os.system(f"useradd --no-create-home --shell /bin/sh {OTHER_USER}")
        return pwd.getpwnam(OTHER_USER).pw_uid


def main() -> int:
    parser = common.parser(__doc__.splitlines()[0])
    parser.add_argument("-n", "--jobs", type=int, default=None, help="job count (3000)")
    args = parser.parse_args()
    njobs = args.jobs or (300 if args.quick else 3000)
    slots = (os.cpu_count() or 1) * 4
    report = common.Report("agent_spawn", args)
    users = [("the agent's own user", os.geteuid())]
    other = other_user()
    if other is not None:
        users.append((f"another user ({OTHER_USER})", other))
    with common.WorkDir(args, "agent-spawn") as work:
        report.section("baseline (same run)")
        raw = common.spawn_rate(njobs)
        report.figure("raw spawn rate (posix_spawn + waitpid)", raw, "proc/s")
        for label, userid in users:
            report.section(f"N = {njobs:,} /bin/true jobs of {label}, {slots} slots")
            rate, cpu = asyncio.run(agent_rate(njobs, slots, userid, work.sub(str(userid))))
            report.figure("throughput", rate, "jobs/s")
            report.figure("agent CPU per job", cpu * 1e6, "us")
            report.figure("ratio to raw spawn rate", rate / raw, "x")
    return report.finish()


if __name__ == "__main__":
    sys.exit(common.run(main))
