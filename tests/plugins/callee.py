"""Answers the custom topic ``test.call`` with OUT ``value = 42`` (flux-core's callee.so)."""


def plugin_init(p):
    p.add_handler("test.call", lambda p, topic, args: args.pack(value=42, seen=args["x"]))
