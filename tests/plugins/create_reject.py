"""Rejects every job in ``job.create``, before validation, with "nope"."""


def plugin_init(p):
    p.add_handler("job.create", lambda p, topic, args: p.reject_job(args, "nope"))
