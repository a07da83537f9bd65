"""Accepts the instance configuration only if ``[testconfig] testkey`` is a string, with
the message a human needs when it is not (flux-core's t/job-manager/plugins/config.c)."""


def configure(p, topic, args):
    testconfig = args["conf"].get("testconfig")
    if not isinstance(testconfig, dict) or not isinstance(testconfig.get("testkey"), str):
        return p.error(args, "Error parsing [testconfig]: testkey must be a string")
    return 0


def plugin_init(p):
    p.add_handler("conf.update", configure)
