"""``.priority-default``: a job's priority is its urgency.

Plugins loaded later overwrite the same OUT key, so the last priority plugin wins; removing
this one leaves jobs without a priority waiting in PRIORITY.
"""


def _priority_is_urgency(p, topic, args):
    args.pack(priority=args["urgency"])


def plugin_init(p):
    p.add_handler("job.state.priority", _priority_is_urgency)
    p.add_handler("job.priority.get", _priority_is_urgency)
