"""Fair share by account: the more an account has used recently, the lower its jobs' priority.

Every ``interval`` seconds the plugin charges each running job's cores for the time since the
last tick to the job's account (``attributes.system.account``, ``--setattr=account=NAME``;
``default`` without one), lets all usage decay with a ``half-life``, and recomputes every
pending job's priority at once with ``reprioritize_all``, which asks ``job.priority.get`` for
each PRIORITY and SCHED job and re-sorts the queue in one step.  A job's priority is::

    round(1_000_000 * urgency / 16 * 2 ** (-usage / shares))

Slurm's classic fair-share factor, with ``shares`` core-seconds the usage at which an
account's priority halves.  Load it with its settings::

    corral jobtap load examples/jobtap/fair_share.py interval=60 half-life=3600 shares=36000
"""

import time

from corral import jobtap, resource_set


def _account(args) -> str:
    return args["jobspec"].get("attributes", {}).get("system", {}).get("account") or "default"


def _cores(R) -> int:
    return sum(len(cores) for cores, _gpus in resource_set.ranks_of(R).values())


class FairShare:
    def __init__(self, half_life: float, shares: float):
        self.half_life = half_life
        self.shares = shares
        self.usage: dict[str, float] = {}  # account -> decayed core-seconds
        self.running: dict[int, tuple[str, int]] = {}  # job id -> (account, cores)
        self.last_tick = time.monotonic()

    def priority(self, p, topic, args):
        usage = self.usage.get(_account(args), 0.0)
        factor = 2 ** (-usage / self.shares)
        args.pack(priority=round(1_000_000 * args["urgency"] / 16 * factor))

    def started(self, p, topic, args):
        """A job runs (or, for a plugin loaded at run time, was already running)."""
        if args["state"] == jobtap.State.RUN:
            self.running[args["id"]] = (_account(args), _cores(args["R"]))

    def ended(self, p, topic, args):
        self.running.pop(args["id"], None)

    def tick(self, p):
        now = time.monotonic()
        elapsed, self.last_tick = now - self.last_tick, now
        decay = 0.5 ** (elapsed / self.half_life)
        for account in self.usage:
            self.usage[account] *= decay
        for account, cores in self.running.values():
            self.usage[account] = self.usage.get(account, 0.0) + cores * elapsed
        jobtap.reprioritize_all(p)

    def query(self, p, topic, args):
        args.pack(usage=dict(self.usage))


def plugin_init(p):
    interval = float(p.conf.get("interval", 60))
    fair_share = FairShare(float(p.conf.get("half-life", 3600)),
                           float(p.conf.get("shares", 36000)))
    p.set_name("fair-share")
    p.add_handler("job.state.priority", fair_share.priority)
    p.add_handler("job.priority.get", fair_share.priority)
    p.add_handler("job.state.run", fair_share.started)
    p.add_handler("job.new", fair_share.started)
    p.add_handler("job.state.cleanup", fair_share.ended)
    p.add_handler("plugin.query", fair_share.query)
    timer = jobtap.get_flux(p).timer(interval, lambda _timer: fair_share.tick(p),
                                     repeat=interval)
    p.aux_set("timer", timer, lambda stopped: stopped.stop())
