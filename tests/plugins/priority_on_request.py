"""Jobs entering PRIORITY wait (``priority_unavail``); a request to
``job-manager.priority-on-request.now`` calls `reprioritize_all`, whose
``job.priority.get`` answers the conf's ``priority`` (500 by default) for every job."""

from corral import jobtap


def plugin_init(p):
    priority = p.conf.get("priority", 500)

    def now(h, msg):
        jobtap.reprioritize_all(p)
        h.respond(msg, {})

    p.set_name("priority-on-request")
    p.add_handler("job.state.priority", lambda p, topic, args: p.priority_unavail(args))
    p.add_handler("job.priority.get", lambda p, topic, args: args.pack(priority=priority))
    jobtap.service_register(p, "now", now)
