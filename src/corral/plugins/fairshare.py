"""Fair share: Slurm's multifactor priority as a jobtap plugin, off until loaded.

    corral jobtap load corral.plugins.fairshare half-life=7d interval=5m

A job's priority is a weighted sum of factors between 0 and 1, as Slurm's priority/multifactor
computes it::

    priority = weight-fairshare * fair-share + weight-age * age + weight-size * size
             + weight-queue * queue + weight-urgency * (urgency - 16)

* fair share: Slurm's classic factor ``2 ** (-effective_usage / norm_shares)`` over the
  two-level tree root → account → user, where usage is decayed core-seconds (halved every
  ``half-life``) and shares come from ``accounts`` and ``users``;
* age: time since submission over ``max-age``, at most 1;
* size: cores asked for over the instance's cores (``favor-small``: the reverse);
* queue: the job's queue's ``queue-factors`` entry over the largest one (1 when unlisted).

Every ``interval`` the plugin charges running jobs for the time since it last looked, decays
all usage, saves it to ``usage-file`` (when set) and recomputes every pending priority with
`jobtap.reprioritize_all`.  The job manager still turns urgency 0 and 31 into hold and
expedite.  Usage lives in the plugin's own file because that is all the jobtap API offers a
plugin to keep across a restart, and a file survives purges of the job history; the arithmetic
and its conventions are in docs/fairshare.md.  ``job-manager.fairshare.usage`` answers
`corral share`.

Written with the public API only (`corral.jobtap` and the jobspec, FSD and R helpers), as a
site's own plugin would be.
"""

import json
import math
import os
import pwd
import time

from corral import fsd, jobspec, jobtap, resource_set

DEFAULTS = {
    "half-life": 7 * 86400.0,
    "interval": 300.0,
    "max-age": 7 * 86400.0,
    "weight-fairshare": 100000.0,
    "weight-age": 1000.0,
    "weight-size": 1000.0,
    "weight-queue": 1000.0,
    "weight-urgency": 1000.0,
    "favor-small": False,
    "gpu-weight": 0.0,
    "default-account": "default",
    "accounts": {},
    "users": {},
    "queue-factors": {},
    "usage-file": None,
}
_DURATIONS = ("half-life", "interval", "max-age")
_SHARE_TABLES = ("accounts", "users", "queue-factors")


# --- configuration --------------------------------------------------------------------------

def settings(conf: dict) -> dict:
    """The plugin's settings from its load conf; ValueError names the key that is wrong."""
    unknown = sorted(set(conf) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"fairshare: unknown setting '{unknown[0]}'")
    values = dict(DEFAULTS, **conf)
    for key in _DURATIONS:
        try:
            values[key] = fsd.parse(values[key])
        except ValueError as exc:
            raise ValueError(f"fairshare: {key}: {exc}") from None
        if values[key] <= 0:
            raise ValueError(f"fairshare: {key} must be more than 0")
    for key, value in values.items():
        if key.startswith("weight-") or key == "gpu-weight":
            if not _non_negative(value):
                raise ValueError(f"fairshare: {key} must be a non-negative number")
    for key in _SHARE_TABLES:
        table = values[key]
        if not isinstance(table, dict) or not all(
                isinstance(name, str) and _non_negative(share) for name, share in table.items()):
            raise ValueError(f"fairshare: {key} must map names to non-negative numbers")
    if not isinstance(values["favor-small"], bool):
        raise ValueError("fairshare: favor-small must be true or false")
    if not isinstance(values["default-account"], str) or not values["default-account"]:
        raise ValueError("fairshare: default-account must be a non-empty string")
    if values["usage-file"] is not None and not isinstance(values["usage-file"], str):
        raise ValueError("fairshare: usage-file must be a path")
    return values


def _non_negative(value) -> bool:
    return type(value) in (int, float) and value >= 0 and math.isfinite(value)


# --- the factors (pure) ---------------------------------------------------------------------

def fair_share_tree(usage: dict, members: dict, account_shares: dict,
                    user_shares: dict) -> dict:
    """Slurm's classic fair-share figures for every account and (account, user).

    ``usage`` is ``{account: {user: decayed usage}}``, ``members`` ``{account: set of users}``
    (every association to show, with or without usage).  Returns ``{account: figures}`` and
    ``{(account, user): figures}`` in one dict, each figures a dict of ``raw_shares``,
    ``norm_shares``, ``raw_usage``, ``norm_usage``, ``effective_usage``, ``fairshare``.
    An account's effective usage is its normalized usage (its parent is the root); a user's is
    ``U + (UE_account - U) * shares / shares of the account's users``.
    """
    total = sum(sum(users.values()) for users in usage.values())
    account_raw = {account: account_shares.get(account, 1) for account in members}
    account_sum = sum(account_raw.values())
    figures = {}
    for account, users in members.items():
        used = usage.get(account, {})
        raw = sum(used.values())
        norm_usage = raw / total if total else 0.0
        norm_shares = account_raw[account] / account_sum if account_sum else 0.0
        figures[account] = _figures(account_raw[account], norm_shares, raw, norm_usage,
                                    norm_usage)
        user_raw = {user: user_shares.get(user, 1) for user in users}
        user_sum = sum(user_raw.values())
        for user in users:
            user_usage = used.get(user, 0.0)
            user_norm_usage = user_usage / total if total else 0.0
            part = user_raw[user] / user_sum if user_sum else 0.0
            effective = user_norm_usage + (norm_usage - user_norm_usage) * part
            figures[account, user] = _figures(user_raw[user], norm_shares * part, user_usage,
                                              user_norm_usage, effective)
    return figures


def _figures(raw_shares, norm_shares, raw_usage, norm_usage, effective_usage) -> dict:
    return {"raw_shares": raw_shares, "norm_shares": norm_shares, "raw_usage": raw_usage,
            "norm_usage": norm_usage, "effective_usage": effective_usage,
            "fairshare": fair_share_factor(effective_usage, norm_shares)}


def fair_share_factor(effective_usage: float, norm_shares: float) -> float:
    """``2 ** (-UE / S)``; an association without shares gets 0."""
    if norm_shares <= 0:
        return 0.0
    return 2.0 ** (-effective_usage / norm_shares)


def decayed(usage: float, elapsed: float, half_life: float) -> float:
    return usage * 0.5 ** (elapsed / half_life)


def age_factor(age: float, max_age: float) -> float:
    return min(1.0, max(0.0, age) / max_age)


def size_factor(cores: int, total_cores: int, favor_small: bool) -> float:
    """Cores over the instance's cores; with ``favor_small`` a 1-core job gets 1 and a job of
    the whole instance ``1 / total_cores``.  Unknown size of the instance (0): 0."""
    if total_cores <= 0:
        return 0.0
    if favor_small:
        return max(0.0, min(1.0, (total_cores - cores + 1) / total_cores))
    return min(1.0, cores / total_cores)


def queue_factor(queue: str | None, factors: dict) -> float:
    top = max([1, *factors.values()])
    return factors.get(queue, 1) / top


# --- the plugin -----------------------------------------------------------------------------

class _Job:
    """What the plugin keeps of an active job, read once from its jobspec."""

    __slots__ = ("id", "user", "account", "queue", "cores", "t_submit", "billing",
                 "charged_until", "fixed")

    def __init__(self, args, default_account):
        system = args["jobspec"].get("attributes", {}).get("system", {})
        request = jobspec.validate(args["jobspec"])
        self.id = args["id"]
        self.user = args["userid"]
        self.account = system.get("account") or default_account
        self.queue = request.queue
        self.cores = request.nslots * request.cores_per_slot
        self.t_submit = args["t_submit"]
        self.billing = 0.0  # cores (+ weighted GPUs) while running
        self.charged_until = None
        self.fixed = None  # weighted size and queue factors, which change with nothing else


class FairShare:
    def __init__(self, p, values: dict):
        self.p = p
        self.values = values
        self.usage: dict[str, dict[int, float]] = {}  # account -> user -> decayed usage
        self.jobs: dict[int, _Job] = {}
        self.running: dict[int, _Job] = {}
        self.total_cores = 0
        self.last_tick = time.time()
        self._tree = None  # fair_share_tree(), recomputed when usage or members change
        self._weighted_fairshare = None  # {(account, user): weighted factor}, with _tree
        self._names: dict[int, str] = {}
        self._load()
        # Saved once now so that a path that cannot be written refuses the load, instead of
        # failing at every tick and again when the plugin is removed.
        try:
            self.save()
        except OSError as exc:
            raise ValueError(f"fairshare: usage-file {self.values['usage-file']} cannot be "
                             f"written: {exc.strerror or exc}") from None

    # usage ---------------------------------------------------------------------------------

    def _load(self):
        path = self.values["usage-file"]
        if path is None or not os.path.exists(path):
            return
        try:
            with open(path) as file:
                saved = json.load(file)
            saved_at = float(saved["time"])
            usage = {str(account): {int(user): float(value) for user, value in users.items()}
                     for account, users in saved["usage"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"fairshare: usage-file {path} cannot be read: {exc}") from None
        self.usage = usage
        # The first look decays usage for the time since the save, and charges the jobs
        # running at a restart from that moment: their tasks ran on meanwhile.
        self.last_tick = saved_at

    def save(self):
        path = self.values["usage-file"]
        if path is None:
            return
        saved = {"time": self.last_tick,
                 "usage": {account: {str(user): value for user, value in users.items()}
                           for account, users in self.usage.items()}}
        temporary = f"{path}.new"
        with open(temporary, "w") as file:
            json.dump(saved, file)
        os.replace(temporary, path)

    def charge(self, job, now):
        if job.charged_until is None or now <= job.charged_until:
            return
        users = self.usage.setdefault(job.account, {})
        users[job.user] = users.get(job.user, 0.0) + job.billing * (now - job.charged_until)
        job.charged_until = now
        self._tree = None

    def tick(self, _timer=None):
        now = time.time()
        elapsed, self.last_tick = max(0.0, now - self.last_tick), now
        half_life = self.values["half-life"]
        for users in self.usage.values():
            for user in users:
                users[user] = decayed(users[user], elapsed, half_life)
        for job in self.running.values():
            self.charge(job, now)
        self._tree = None
        jobtap.reprioritize_all(self.p)
        self.save_or_log()

    def save_or_log(self):
        """`save`, logging a failure in one line: the path was writable at load, so a
        failure now (a full disk, a removed directory) must not stop the plugin."""
        try:
            self.save()
        except OSError as exc:
            self.p.get_flux().log(3, "fairshare: usage-file %s: %s", self.values["usage-file"],
                                  exc.strerror or exc)

    # jobs ----------------------------------------------------------------------------------

    def new(self, p, topic, args):
        """A job accepted (or, at restart and at load, already there)."""
        job = self.jobs[args["id"]] = _Job(args, self.values["default-account"])
        # An association, once seen, stays (with its usage, in the usage file), as Slurm's
        # associations outlive their jobs.
        self.usage.setdefault(job.account, {}).setdefault(job.user, 0.0)
        self._tree = None
        if args["state"] == jobtap.State.RUN and "R" in args:
            self._run(job, args["R"], max(self.last_tick, args["R"]["execution"]["starttime"]))

    def run(self, p, topic, args):
        job = self.jobs.get(args["id"])
        if job is not None:
            self._run(job, args["R"], time.time())

    def _run(self, job, R, since):
        cores = gpus = 0
        for core_ids, gpu_ids in resource_set.ranks_of(R).values():
            cores += len(core_ids)
            gpus += len(gpu_ids)
        job.billing = cores + self.values["gpu-weight"] * gpus
        job.charged_until = since
        self.running[job.id] = job

    def cleanup(self, p, topic, args):
        job = self.running.pop(args["id"], None)
        if job is not None:
            self.charge(job, time.time())
            job.charged_until = None

    def inactive(self, p, topic, args):
        self.running.pop(args["id"], None)
        self.jobs.pop(args["id"], None)

    # priority ------------------------------------------------------------------------------

    def tree(self) -> dict:
        if self._tree is None:
            members = {account: set(users) for account, users in self.usage.items()}
            for account in self.values["accounts"]:
                members.setdefault(account, set())
            user_shares = {uid: self.values["users"].get(self.name(uid), 1)
                           for users in members.values() for uid in users}
            self._tree = fair_share_tree(self.usage, members, self.values["accounts"],
                                         user_shares)
            weight = self.values["weight-fairshare"]
            self._weighted_fairshare = {key: weight * figures["fairshare"]
                                        for key, figures in self._tree.items()}
        return self._tree

    def factors(self, job, urgency, now) -> dict:
        """A job's factors, each between 0 and 1 (urgency: its distance from the default)."""
        values = self.values
        return {
            "fairshare": self.tree()[job.account, job.user]["fairshare"],
            "age": age_factor(now - job.t_submit, values["max-age"]),
            "size": size_factor(job.cores, self.total_cores, values["favor-small"]),
            "queue": queue_factor(job.queue, values["queue-factors"]),
            "urgency": urgency - jobtap.URGENCY_DEFAULT,
        }

    def priority(self, p, topic, args):
        """The weighted sum of `factors`, computed from what changes since the last call
        only: every pending job's priority is asked for at every tick."""
        job = self.jobs.get(args["id"])
        if job is None:  # accepted before this plugin could see it: leave it to the others
            return 0
        values = self.values
        if job.fixed is None:
            job.fixed = (
                values["weight-size"] * size_factor(job.cores, self.total_cores,
                                                    values["favor-small"])
                + values["weight-queue"] * queue_factor(job.queue, values["queue-factors"]))
        if self._tree is None:
            self.tree()
        total = (job.fixed + self._weighted_fairshare[job.account, job.user]
                 + values["weight-age"] * age_factor(time.time() - job.t_submit,
                                                     values["max-age"])
                 + values["weight-urgency"] * (args["urgency"] - jobtap.URGENCY_DEFAULT))
        args.pack(priority=max(jobtap.PRIORITY_MIN,
                               min(jobtap.PRIORITY_MAX - 1, round(total))))
        return 0

    # reporting -----------------------------------------------------------------------------

    def name(self, uid: int) -> str:
        name = self._names.get(uid)
        if name is None:
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                name = str(uid)
            self._names[uid] = name
        return name

    def report(self, h, msg):
        """``job-manager.fairshare.usage``: the associations and every pending job's factors."""
        now = time.time()
        associations = []
        for key, figures in sorted(self.tree().items(), key=lambda item: _order(item[0])):
            account, uid = key if isinstance(key, tuple) else (key, None)
            row = {"account": account, "user": self.name(uid) if uid is not None else None}
            row.update(figures)
            associations.append(row)
        jobs = []
        for job in self.jobs.values():
            if job.id in self.running:
                continue
            try:
                looked_up = self.p.job_lookup(job.id)
            except OSError:
                continue
            if looked_up["state"] not in (jobtap.State.PRIORITY, jobtap.State.SCHED):
                continue
            jobs.append({"id": job.id, "user": self.name(job.user), "account": job.account,
                         "queue": job.queue, "priority": looked_up["priority"],
                         "factors": self.factors(job, looked_up["urgency"], now)})
        weights = {key: value for key, value in self.values.items() if key.startswith("weight-")}
        h.respond(msg, {"associations": associations, "jobs": jobs, "weights": weights,
                        "time": now, "last_tick": self.last_tick})

    def got_resources(self, future):
        try:
            nodes = future.result()["nodes"]
        except Exception as exc:  # no resource service (or it failed): size factor stays 0
            self.p.get_flux().log(4, "fairshare: no resource list (%s); size factor is 0", exc)
            return
        self.total_cores = sum(node["ncores"] for node in nodes)
        for job in self.jobs.values():
            job.fixed = None
        jobtap.reprioritize_all(self.p)

    def query(self, p, topic, args):
        args.pack(usage={account: {self.name(user): value for user, value in users.items()}
                         for account, users in self.usage.items()},
                  last_tick=self.last_tick)


def _order(key):
    """Accounts in name order, each followed by its users."""
    return (key[0], 1, key[1]) if isinstance(key, tuple) else (key, 0, -1)


def plugin_init(p):
    fair_share = FairShare(p, settings(p.conf))
    p.set_name("fairshare")
    p.add_handler("job.new", fair_share.new)
    p.add_handler("job.state.priority", fair_share.priority)
    p.add_handler("job.priority.get", fair_share.priority)
    p.add_handler("job.state.run", fair_share.run)
    p.add_handler("job.state.cleanup", fair_share.cleanup)
    p.add_handler("job.state.inactive", fair_share.inactive)
    p.add_handler("plugin.query", fair_share.query)
    jobtap.service_register(p, "usage", fair_share.report,
                            rolemask=jobtap.ROLE_OWNER | jobtap.ROLE_USER)
    h = jobtap.get_flux(p)
    interval = fair_share.values["interval"]
    p.aux_set("timer", h.timer(interval, fair_share.tick, repeat=interval),
              lambda timer: timer.stop())
    p.aux_set("usage", fair_share, lambda kept: kept.save_or_log())
    h.rpc("resource.list").then(fair_share.got_resources)
