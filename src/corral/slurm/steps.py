"""Job steps as Slurm shows them (sacct's ``ID.N`` rows), read from the jobs' eventlogs:
``step-start`` and ``step-finish`` (`corral.jobmanager.step`); and the signal Slurm sends
to a job's steps alone (``--signal`` without ``B:``, ``scancel -s`` without ``-b``)."""

import os

from ..waitstatus import returncode
from . import states


class SlurmStep:
    def __init__(self, job, start: dict):
        context = start["context"]
        self.job = job
        self.number = context["step"]
        self.name = context.get("name", "")
        self.ntasks = context.get("ntasks", 1)
        self.cpus = self.ntasks * context.get("cpus_per_task", 1)
        self.nodelist = context.get("nodelist", "")
        self.start_time = start["timestamp"]
        self.end_time = 0.0
        self.status = None

    @property
    def display_id(self) -> str:
        return f"{self.job.display_id}.{self.number}"

    @property
    def nnodes(self) -> int:
        from .. import hostlist

        return len(hostlist.expand(self.nodelist)) if self.nodelist else 0

    @property
    def state(self) -> str:
        """COMPLETED, FAILED (an exit code), CANCELLED (a signal, or gone with its job
        without an end of its own), RUNNING."""
        if self.status is None:
            return "CANCELLED" if self.job.finished else "RUNNING"
        if os.WIFSIGNALED(self.status):
            return "CANCELLED"
        return "FAILED" if returncode(self.status) else "COMPLETED"

    @property
    def exit_code(self) -> str:
        return states.exit_code({"waitstatus": self.status})

    def elapsed(self, now: float) -> float:
        end = self.end_time or (self.job.end_time if self.job.finished else now)
        return max(end - self.start_time, 0)


def of_jobs(client, jobs) -> dict[int, list[SlurmStep]]:
    """``{job id: [steps]}`` of the jobs that started: their eventlogs asked for all at once
    (one round trip, not one per job)."""
    tags = [(job, client.send("job-info.eventlog", {"id": job.id}))
            for job in jobs if job.start_time]
    result = {}
    for job, tag in tags:
        steps = {}
        for event in client.answer(tag)["events"]:
            if event["name"] == "step-start":
                step = SlurmStep(job, event)
                steps[step.number] = step
            elif event["name"] == "step-finish" and event["context"]["step"] in steps:
                step = steps[event["context"]["step"]]
                step.status = event["context"]["status"]
                step.end_time = event["timestamp"]
        if steps:
            result[job.id] = [steps[number] for number in sorted(steps)]
    return result


def signal_running(client, job_id: int, signum: int):
    """Send ``signum`` to every running step of job ``job_id``, not to its batch shell."""
    from ..client import RPCError

    for step in client.rpc("job-manager.step-list")["steps"]:
        if step["id"] == job_id:
            try:
                client.rpc("job-manager.step-kill", {"id": job_id, "step": step["step"],
                                                     "signal": signum})
            except RPCError:
                pass  # it ended meanwhile
