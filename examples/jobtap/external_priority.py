"""Priorities that come from outside: a job waits in PRIORITY until someone sets one.

A job entering PRIORITY without a priority for it gets ``priority_unavail``, which keeps it
there.  The owner (or a service acting for the owner, such as an accounting daemon) pushes a
priority with::

    corral rpc job-manager.external-priority.set '{"id": 12, "priority": 42000}'

and the plugin hands it on with ``reprioritize_job``, which moves a waiting job to SCHED (or
re-sorts it there).  ``job.priority.get`` answers with the same values, so a later
reprioritization keeps them.  Jobs held or expedited by urgency still get 0 or the maximum.
"""

import errno

from corral import jobtap


class ExternalPriority:
    def __init__(self):
        self.priorities: dict[int, int] = {}  # job id -> priority pushed for it

    def priority(self, p, topic, args):
        priority = self.priorities.get(args["id"])
        if priority is None:
            return jobtap.priority_unavail(p, args)
        args.pack(priority=priority)
        return 0

    def forget(self, p, topic, args):
        self.priorities.pop(args["id"], None)

    def set(self, h, msg, p):
        request = msg.payload if isinstance(msg.payload, dict) else {}
        job_id, priority = request.get("id"), request.get("priority")
        if type(job_id) is not int or type(priority) is not int:
            h.respond_error(msg, errno.EPROTO, "set needs an integer id and priority")
            return
        try:
            jobtap.reprioritize_job(p, job_id, priority)
        except OSError as exc:
            h.respond_error(msg, exc.errno, exc.strerror)
            return
        self.priorities[job_id] = priority
        h.respond(msg, {})


def plugin_init(p):
    external = ExternalPriority()
    p.set_name("external-priority")
    jobtap.service_register(p, "set", external.set, p)
    p.add_handler("job.state.priority", external.priority)
    p.add_handler("job.priority.get", external.priority)
    p.add_handler("job.state.inactive", external.forget)
