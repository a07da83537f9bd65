"""A plugin whose ``plugin_init`` returns -1: the load fails."""


def plugin_init(p):
    return -1
