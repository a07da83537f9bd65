"""``.dependency-singleton``: run at most one job at a time per user and job name.

A job submitted with ``--dependency=singleton`` (it must have an explicit job name) waits in
DEPEND while any other active job of the same user and name exists that is not itself a
waiting singleton; when only waiting singletons remain, the oldest one is released.  The
plugin counts active jobs by ``uid:name`` from ``job.new`` to ``job.state.inactive``.
"""

DESCRIPTION = "singleton"


def _key(args) -> str | None:
    name = args["jobspec"].get("attributes", {}).get("system", {}).get("job", {}).get("name")
    return None if name is None else f"{args['userid']}:{name}"


class Singletons:
    def __init__(self):
        self.active: dict[str, int] = {}  # uid:name -> active jobs with an explicit name
        self.waiting: dict[str, list[int]] = {}  # uid:name -> singleton jobs held, oldest first

    def depend(self, p, topic, args):
        key = _key(args)
        if key is None:
            return p.reject_job(args, "singleton jobs require a job name")
        job_id = args["id"]
        if self.active.get(key, 0) == 0:
            # Nothing to wait for.  After a restart the dependency may still be outstanding
            # from before; let the job go.
            try:
                p.dependency_remove(job_id, DESCRIPTION)
            except OSError:
                pass
            return 0
        try:
            p.dependency_add(job_id, DESCRIPTION)
        except OSError:
            return p.reject_job(args, "failed to add dependency")
        if job_id not in self.waiting.setdefault(key, []):
            self.waiting[key].append(job_id)
        return 0

    def new(self, p, topic, args):
        return self._count(p, args, 1)

    def inactive(self, p, topic, args):
        return self._count(p, args, -1)

    def _count(self, p, args, change):
        key = _key(args)
        if key is None:
            return 0
        waiting = self.waiting.get(key, [])
        if change < 0 and args["id"] in waiting:
            waiting.remove(args["id"])
        count = self.active.get(key, 0) + change
        if waiting and count == len(waiting):
            released = waiting.pop(0)
            try:
                p.dependency_remove(released, DESCRIPTION)
            except OSError:
                p.raise_exception(released, "dependency", 0,
                                  "failed to remove singleton dependency")
        if count > 0:
            self.active[key] = count
        else:
            self.active.pop(key, None)
        if not waiting:
            self.waiting.pop(key, None)
        return 0

    def query(self, p, topic, args):
        args.pack_out({key: {"count": count, "singletons": list(self.waiting.get(key, []))}
                       for key, count in self.active.items()})
        return 0


def plugin_init(p):
    singletons = Singletons()
    p.add_handler("job.dependency.singleton", singletons.depend)
    p.add_handler("job.new", singletons.new)
    p.add_handler("job.state.inactive", singletons.inactive)
    p.add_handler("plugin.query", singletons.query)
