"""Raises in ``job.validate``, so every job of a replay is rejected by a failed callback."""


def plugin_init(p):
    p.add_handler("job.validate", validate)


def validate(p, topic, args):
    raise RuntimeError("validate failed on purpose")
