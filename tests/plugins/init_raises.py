"""A plugin whose ``plugin_init`` raises: the load fails, the controller carries on."""


def plugin_init(p):
    p.add_handler("job.*", lambda p, topic, args: 0)
    raise RuntimeError("init failed on purpose")
