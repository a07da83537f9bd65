"""What a command that waits for a job says while the job waits (``corral run``, ``corral
job attach``, ``corral job wait``): never a silent wait.

A job still pending after `NOTICE_DELAY` seconds without news is described once per reason
on stderr, in Slurm's words (the reason ``squeue`` gives), with what would end the wait: a
hold to release, a stopped queue, drained nodes.  ``corral run`` gives up on a job the system
requeued and held (a failed prolog), as ``srun`` does when its allocation is revoked: the
job stays queued, held, for its user to release or cancel.
"""

import sys

from ..slurm import records

#: Seconds without an event before a pending job is described.
NOTICE_DELAY = 1.0
#: Exit status of ``corral run`` when the system held its job (srun's for a revoked
#: allocation).
HELD_STATUS = 1


def reason(client, summary: dict) -> str | None:
    """Slurm's reason for a pending job (a ``job-list`` summary); None if it is not pending."""
    job = records.SlurmJob(summary)
    if job.state != "PENDING":
        return None
    return job.reason(records.owner_uid(client))


def describe(client, summary: dict) -> str | None:
    """``job N is pending (REASON)...``, with what would end the wait; None if the job is not
    pending."""
    why = reason(client, summary)
    if why is None:
        return None
    job_id = summary["id"]
    text = f"job {job_id} is pending ({why})"
    if why == "JobHeldUser":
        return f"{text}: corral job urgency {job_id} default releases it"
    if why == "JobHeldAdmin":
        held_by = summary.get("reason")
        held_by = f", {held_by}" if held_by else ""
        return f"{text}{held_by}: corral job urgency {job_id} default releases it"
    if why == "PartitionDown":
        return f"{text}: its queue is stopped (corral queue start)"
    if why == "Dependency":
        return f"{text}: waiting for its dependencies"
    if why in ("Resources", "Priority"):
        nodes = client.rpc("resource.list")["nodes"]
        drained = [f"{node['name']} ({node['reason']})" if node.get("reason") else node["name"]
                   for node in nodes if node["drained"]]
        if drained and len(drained) == len(nodes):
            return f"{text}: every node is drained: {', '.join(drained)}"
        if drained:
            return f"{text}: waiting for resources; drained: {', '.join(drained)}"
        return f"{text}: waiting for resources"
    return text


def say(prefix: str, text: str):
    print(f"{prefix}: {text}", file=sys.stderr, flush=True)


def until_started(client, job_id: int, prefix: str, give_up_when_held: bool) -> bool:
    """Follow the job's eventlog until its tasks start or it ends (True), saying why it waits
    meanwhile; False when ``give_up_when_held`` and the system requeued it held (said)."""
    said = set()
    allocated = False
    last_exception = None
    events = client.watch_eventlog(job_id, idle=NOTICE_DELAY)
    try:
        for event in events:
            if event is None:
                if not allocated:
                    text = describe(client, client.job(job_id))
                    if text is not None and text not in said:
                        said.add(text)
                        say(prefix, text)
                continue
            name = event["name"]
            context = event.get("context") or {}
            if name in ("start", "clean"):
                return True
            if name == "alloc":
                allocated = True
            elif name == "exception":
                last_exception = context.get("note") or context.get("type")
            elif name == "requeue":
                allocated = False
                if give_up_when_held:
                    why = last_exception or context.get("reason")
                    if context.get("hold"):
                        say(prefix, f"job {job_id} requeued and held: {why}")
                        return False
                    say(prefix, f"job {job_id} requeued: {why}; it will run again")
        return True
    finally:
        events.close()
