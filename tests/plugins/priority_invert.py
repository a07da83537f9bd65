"""flux-core's priority-invert.so: later jobs get higher priorities, so the queue runs in
reverse submission order."""


def invert(p, topic, args):
    args.pack(priority=args["id"])


def plugin_init(p):
    p.add_handler("job.state.priority", invert)
    p.add_handler("job.priority.get", invert)
