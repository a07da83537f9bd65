"""Every job's priority is 10: a priority plugin that, loaded later, wins over
``.priority-default`` (shared OUT args, last writer wins)."""


def ten(p, topic, args):
    args.pack(priority=10)


def plugin_init(p):
    p.add_handler("job.state.priority", ten)
    p.add_handler("job.priority.get", ten)
