"""``.update-queue``: allow moving a pending job to another queue (``attributes.system.queue``).

The new queue must be configured (``[queues.<name>]``) and differ from the current one; a
job already running cannot move.  A queue's ``requires`` become the job's constraints, so a
job whose constraints are neither its current queue's nor none (extra constraints given at
submit) is refused rather than silently losing them; corral's scheduler keeps a job on its
queue's nodes itself, so a job submitted without constraints has none in its jobspec.  The
update service then checks feasibility, including that the new queue is enabled (flux-core
checks that here, with internal access).
"""

from corral.jobtap import State


class QueueUpdate:
    def __init__(self):
        self.queues: dict[str, list | None] = {}  # name -> required properties

    def configure(self, p, topic, args):
        queues = args["conf"].get("queues") or {}
        self.queues = {name: (table or {}).get("requires") for name, table in queues.items()}
        return 0

    def _constraints(self, name):
        requires = self.queues.get(name)
        return {"properties": requires} if requires else {}

    def update(self, p, topic, args):
        name = args["value"]
        if not isinstance(name, str):
            return p.error(args, "plugin args unpack failed")
        if args["state"] & (State.RUN | State.CLEANUP):
            return p.error(args, "update of queue for running job not supported")
        system = args["jobspec"].get("attributes", {}).get("system", {})
        current = system.get("queue")
        if current == name:
            return p.error(args, "job queue is already set to %s", name)
        if name not in self.queues:
            return p.error(args, "'%s' is not a valid queue", name)
        if current is None:
            return p.error(args, "a named queue is required")
        if current not in self.queues:
            return p.error(args, "'%s' is not a valid queue", current)
        if (system.get("constraints") or {}) not in ({}, self._constraints(current)):
            return p.error(args, "job appears to have non-queue constraints, unable to "
                           "update queue to %s", current)
        args.pack(feasibility=1,
                  updates={"attributes.system.constraints": self._constraints(name)})
        return 0


def plugin_init(p):
    queue_update = QueueUpdate()
    p.add_handler("conf.update", queue_update.configure)
    p.add_handler("job.update.attributes.system.queue", queue_update.update)
