"""A per-user limit on active jobs: a submission beyond it is rejected, with a message.

Load it with a limit::

    corral jobtap load examples/jobtap/user_job_limit.py max-active=4

A job counts from the moment it is accepted (``job.new``) until it is inactive
(``job.state.inactive``).  The check is in ``job.validate``, which runs before ``job.new``, so
a rejected job is never counted.  A plugin loaded while jobs exist gets ``job.new`` for each of
them, so the counts are right from the start.  ``corral jobtap query user_job_limit.py``
shows them.
"""

from corral import jobtap


class UserJobLimit:
    def __init__(self, max_active: int):
        self.max_active = max_active
        self.active: dict[int, int] = {}  # userid -> active jobs

    def validate(self, p, topic, args):
        userid = args["userid"]
        count = self.active.get(userid, 0)
        if count >= self.max_active:
            return jobtap.reject_job(p, args, "user %d already has %d active jobs (limit %d)",
                                     userid, count, self.max_active)
        return 0

    def new(self, p, topic, args):
        userid = args["userid"]
        self.active[userid] = self.active.get(userid, 0) + 1

    def inactive(self, p, topic, args):
        userid = args["userid"]
        remaining = self.active.get(userid, 0) - 1
        if remaining > 0:
            self.active[userid] = remaining
        else:
            self.active.pop(userid, None)

    def query(self, p, topic, args):
        args.pack(max_active=self.max_active,
                  active={str(userid): count for userid, count in self.active.items()})


def plugin_init(p):
    max_active = p.conf.get("max-active", 8)
    if type(max_active) is not int or max_active < 1:
        jobtap.get_flux(p).log_error("user-job-limit: max-active must be a positive integer")
        return -1
    limit = UserJobLimit(max_active)
    p.set_name("user-job-limit")
    p.add_handler("job.validate", limit.validate)
    p.add_handler("job.new", limit.new)
    p.add_handler("job.state.inactive", limit.inactive)
    p.add_handler("plugin.query", limit.query)
