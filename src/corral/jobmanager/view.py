"""A read-only view of an active job: what a plugin may read beyond its callback's args.

A jobtap callback's args hold what Flux's do (jobspec, R, state, priority, ...).  The
``.prep`` builtin needs what Slurm's job record holds besides: the job's environment, its
nodes, when it started and how it ended, how often it was requeued and whether a requeue is
under way, when it may run again.  `Plugin.job_view` gives this view (corral's extension to
the handle, see docs/jobtap.md): attributes to read, none to set, so that a plugin learns
about a job without reaching into the job manager's record of it.
"""

import operator


class JobView:
    """Read-only: ``id``, ``userid``, ``name``, ``queue``, ``state``; ``jobspec`` (without
    its environment), ``environment``, ``request`` (the jobspec's `corral.jobspec.Request`),
    ``ntasks``; ``R``, ``ranks`` (``{rank: (core ids, gpu ids)}``), ``nodelist``,
    ``has_resources``; ``t_run`` (when it was allocated), ``waitstatus`` (its tasks' status
    once finished); ``restart_count``, ``launch_failures``, ``requeue_pending``,
    ``t_eligible`` (when a requeued job may be allocated again, or None)."""

    __slots__ = ("_job", "_store")

    def __init__(self, job, store):
        self._job = job
        self._store = store

    @property
    def requeue_pending(self) -> bool:
        """Whether the job is requeued when its cleanup is done."""
        return self._job.requeue_request is not None

    def events(self) -> list[dict]:
        """The job's eventlog as stored (RFC 18 entries), read from the store."""
        return self._store.events(self._job.id)


for _name in ("id", "userid", "name", "queue", "state", "jobspec", "environment", "request",
              "ntasks", "R", "ranks", "nodelist", "has_resources", "t_run", "waitstatus",
              "restart_count", "launch_failures", "t_eligible"):
    setattr(JobView, _name, property(operator.attrgetter("_job." + _name)))
del _name
