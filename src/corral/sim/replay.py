"""Replaying a trace: each job submitted at its submit time on the virtual clock, and what
became of it read back from the job manager once every job is inactive.

Jobs submitted at the same moment go in one submit request (with the trace's users, one per
run of jobs of one user, submitted as that user).  A moment's submissions are
made once everything due at that moment has run (jobs ending then have ended and given their
resources back), the convention of most trace-driven simulators.  A job is one task per
processor, one core each, with ``exec.test.run_duration`` set to its run time so exec
simulates it.
"""

import gc
import itertools
import json
import time

from .. import jobspec as jobspec_module
from ..broker.roles import ROLE_USER
from ..jsoncodec import dumps
from . import swf
from .clock import VirtualClockLoop, patched_time
from .machine import Machine

#: Virtual time of the trace's time 0: a plausible epoch, since a timestamp of 0 reads as
#: "unset" in places (R expiration).
EPOCH = 1_000_000_000.0

#: Jobs per submit request, at most (a moment with more is sent in several).
SUBMIT_BATCH = 1024

#: Jobs submitted between two freezes of what the garbage collector has seen (see `_drive`).
FREEZE_EVERY = 10_000
#: The third threshold of `gc.set_threshold` during a replay: full collections only when
#: `_drive` asks (C's largest int, so never otherwise).
_NO_FULL_COLLECTIONS = 2**31 - 1


class Replay:
    """One run of a trace: the result of `run` is the trace with start and end filled in."""

    def __init__(self, trace: swf.Trace, config, nodes: int, cores_per_node: int,
                 policy: str | None = None, jobtap=(), kill_at_limit=False, prep=(),
                 trace_users=False):
        self.trace = trace
        self.config = config
        self.nodes = nodes
        self.cores_per_node = cores_per_node
        self.policy = policy
        self.jobtap = list(jobtap)
        self.kill_at_limit = kill_at_limit
        self.prep = list(prep)
        self.trace_users = trace_users
        self.rejected = 0
        self.wall_seconds = 0.0
        #: (processors, limit) -> the JSON text of their jobspec (see `_jobspec`).
        self._jobspecs: dict[tuple, str] = {}

    def run(self) -> swf.Trace:
        start = self.trace.jobs[0].submit if self.trace.jobs else 0.0
        loop = VirtualClockLoop(EPOCH + start)
        wall_start = time.perf_counter()
        thresholds = gc.get_threshold()
        gc.set_threshold(*thresholds[:2], _NO_FULL_COLLECTIONS)
        try:
            with patched_time(loop):
                machine = Machine(loop, self.config, self.nodes, self.cores_per_node,
                                  self.policy, self.jobtap, self.kill_at_limit, self.prep)
                try:
                    loop.run_until_complete(self._drive(loop, machine))
                finally:
                    machine.close()
        finally:
            loop.close()
            gc.unfreeze()
            gc.set_threshold(*thresholds)
        self.wall_seconds = time.perf_counter() - wall_start
        return self.trace

    async def _drive(self, loop, machine):
        """Submit the trace, then collect it.  Every `FREEZE_EVERY` jobs, a full collection
        runs and whatever the garbage collector has seen is then frozen (left out of later
        collections): a replay keeps nearly everything it makes (the jobs, their records) to
        its end, and a full collection would walk it all again each time the heap grows by
        a quarter.  No other full collection runs (see `run`): one would run inside whatever
        callback happened to allocate, for a tenth of a second, and be reported as that
        plugin's slow callback."""
        broker = machine.broker
        submitted = []
        unfrozen = 0
        for moment, group in itertools.groupby(self.trace.jobs, key=lambda job: job.submit):
            await loop.wake_at(EPOCH + moment)
            group = list(group)
            unfrozen += len(group)
            if unfrozen >= FREEZE_EVERY:
                gc.collect()
                gc.freeze()
                unfrozen = 0
            for user, batch in self._requests(group):
                request = {"jobs": [{"jobspec": self._jobspec(job)} for job in batch]}
                if user is None:
                    answer = broker.rpc("job-manager.submit", request)
                else:
                    answer = broker.rpc("job-manager.submit", request, userid=user,
                                        rolemask=ROLE_USER)
                submitted.append((batch, answer))
        ids = []
        for batch, answer in submitted:
            results = (await answer)["jobs"]
            for job, result in zip(batch, results, strict=True):
                ids.append((job, result.get("id")))
        await broker.rpc("job-manager.queue-drain", {})
        self._collect(machine, ids)

    def _requests(self, group):
        """``(user, jobs)`` for each submit request of one moment, in trace order: requests
        of at most `SUBMIT_BATCH` jobs, and with the trace's users one per run of jobs of the
        same user (user None: the instance owner)."""
        if self.trace_users:
            runs = [(user, list(jobs)) for user, jobs in
                    itertools.groupby(group, key=lambda job: job.user if job.user >= 0 else None)]
        else:
            runs = [(None, group)]
        for user, jobs in runs:
            for first in range(0, len(jobs), SUBMIT_BATCH):
                yield user, jobs[first:first + SUBMIT_BATCH]

    def _jobspec(self, job: swf.TraceJob) -> dict:
        """The job's jobspec: a fresh copy of the one built (and validated) for the first
        job of its size and limit; building one anew costs half as much as the job
        manager's whole handling of its submission."""
        shape = (job.processors, job.limit)
        text = self._jobspecs.get(shape)
        if text is None:
            text = self._jobspecs[shape] = dumps(
                jobspec_module.build(["true"], ntasks=job.processors, duration=job.limit))
        spec = json.loads(text)
        spec["attributes"]["system"]["exec"] = {"test": {"run_duration": job.run}}
        return spec

    def _collect(self, machine, ids):
        manager = machine.manager
        for job, job_id in ids:
            record = manager.inactive.get(job_id) if job_id is not None else None
            if record is None or record.t_run is None:
                self.rejected += 1
                continue
            job.start = record.t_run - EPOCH
            job.end = (record.t_cleanup or record.t_run) - EPOCH
