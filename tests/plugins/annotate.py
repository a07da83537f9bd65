"""Annotates each job as it goes (OUT ``annotations``: merged recursively, ``None`` deletes),
and tries to set OUT ``R`` outside ``job.state.sched`` (refused)."""

STEPS = {
    "job.new": {"new": 1},
    "job.state.depend": {"a": 1, "b": {"c": 2, "d": 3}},
    "job.state.priority": {"b": {"c": None}},
    "job.state.sched": {"a": None},
}


def annotate(p, topic, args):
    args.pack(annotations=STEPS[topic])


def plugin_init(p):
    for topic in STEPS:
        p.add_handler(topic, annotate)
    p.add_handler("job.state.run", lambda p, topic, args: args.pack(R={"version": 1}))
