"""``.prep``: the PrEp plugins wired into the job's life, as a builtin jobtap plugin.

The controller registers it with its PrEp bridge (``corral.prep.bridge.PrepBridge``) as the
argument; it is loaded after the other builtins. In ``job.state.run`` the bridge runs the
controller and node prologs between ``prolog-start`` and ``prolog-finish`` (the job manager
starts the tasks only after the last prolog action finished); in ``job.state.cleanup`` it runs
the epilogs between ``epilog-start`` and ``epilog-finish`` (``free`` waits for them). With no
hook that can do anything (the default ``prep/script`` without scripts) it watches neither
state, so jobs pay nothing. It always answers ``job.state.priority`` and ``job.priority.get``
for jobs that a requeue made wait (``[prep] requeue-delay``): their priority is unavailable
until the delay is over.

Like every builtin it uses only the public jobtap API, plus the bridge it is given. Removing
it (``corral jobtap remove .prep``) stops PrEp for the jobs that start afterwards; loading it
again (``corral jobtap load .prep``) brings it back.
"""


def _run(p, topic, args, bridge):
    bridge.job_run(args["id"])
    return 0


def _cleanup(p, topic, args, bridge):
    bridge.job_cleanup(args["id"], args["prev_state"])
    return 0


def _priority(p, topic, args, bridge):
    return bridge.priority(p, args)


def plugin_init(p, bridge):
    bridge.attach(p)
    # Removed (corral jobtap remove .prep): new jobs run no hook; running ones finish theirs.
    p.aux_set("prep-bridge", bridge, lambda bridge: bridge.detach())
    if bridge.runs_hooks:
        p.add_handler("job.state.run", _run, bridge)
        p.add_handler("job.state.cleanup", _cleanup, bridge)
    p.add_handler("job.state.priority", _priority, bridge)
    p.add_handler("job.priority.get", _priority, bridge)
    return 0
