"""``.update-duration``: allow ``attributes.system.duration`` updates (``corral job update``).

Any user may change the duration of a pending job (``job.validate`` then checks the result,
so limits still apply); only the owner may change a running job's.  The owner's updates skip
validation unless the plugin is loaded with ``owner-allow-any=0``.
"""

from corral.jobtap import ROLE_OWNER, State


def plugin_init(p):
    owner_allow_any = p.conf.get("owner-allow-any", 1)

    def update(p, topic, args):
        duration = args["value"]
        if type(duration) not in (int, float):
            return p.error(args, "plugin args unpack failed")
        if duration < 0:
            return p.error(args, "duration must not be negative")
        owner = args["cred"]["rolemask"] & ROLE_OWNER
        if args["state"] in (State.RUN, State.CLEANUP) and not (owner and owner_allow_any):
            return p.error(args, "duration update of running job requires instance owner "
                           "privileges")
        if owner and owner_allow_any:
            args.pack(validated=1)
        return 0

    p.add_handler("job.update.attributes.system.duration", update)
