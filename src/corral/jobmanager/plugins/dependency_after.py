"""``.dependency-after``: hold a job until another job starts, ends, succeeds, fails or ends
with an exception (``afterstart``, ``afterany``, ``afterok``, ``afternotok``,
``afterexcept``; ``after`` is the deprecated spelling of ``afterstart``).

The value is the antecedent's job id; it must exist and belong to the same user.  A
dependency is recorded twice: on the antecedent (who waits for me), released when it starts
or becomes inactive, and on the dependent (whom I wait for), dropped when it reaches PRIORITY
or becomes inactive, so that an antecedent never releases a job that is gone.  An antecedent
already inactive is judged at once.  One that never got resources satisfies only
``afterany``; every dependency that can no longer be satisfied becomes a fatal
``dependency`` exception on the dependent job.

``anyof`` (Slurm's ``?`` lists, which Flux lacks) holds a job until any one of several such
dependencies is satisfied: its value is a comma-separated list of ``scheme:id``
(``anyof:afterok:12,afterany:14``), its description ``any-of=after-success=12,...``.  The
first member satisfied releases the job and the others stop waiting; the job gets the fatal
exception only once no member can be satisfied.
"""

import errno

from corral.jobtap import CURRENT_JOB, Result, State

AFTER_START = 0x1
AFTER_FINISH = 0x2
AFTER_SUCCESS = 0x4
AFTER_FAILURE = 0x8
AFTER_EXCEPTION = 0x10

#: scheme -> dependency type
SCHEMES = {
    "after": AFTER_START,
    "afterstart": AFTER_START,
    "afterany": AFTER_FINISH,
    "afterok": AFTER_SUCCESS,
    "afternotok": AFTER_FAILURE,
    "afterexcept": AFTER_EXCEPTION,
}

#: type -> the word used in dependency descriptions (``after-finish=12``)
TYPE_NAMES = {
    AFTER_START: "after-start",
    AFTER_FINISH: "after-finish",
    AFTER_SUCCESS: "after-success",
    AFTER_FAILURE: "after-failure",
    AFTER_EXCEPTION: "after-exception",
}

_WAITERS = "flux::after_list"  # on the antecedent: the dependencies waiting for it
_WAITING_ON = "flux::after_refs"  # on the dependent: the dependencies it waits on


class After:
    """One dependency: job ``depid`` waits for job ``target`` (``type_``); ``group`` is the
    any-of list it is a member of, if any."""

    __slots__ = ("type_", "target", "depid", "description", "group")

    def __init__(self, type_, target, depid, value, group=None):
        self.type_ = type_
        self.target = target
        self.depid = depid
        self.description = f"{TYPE_NAMES[type_]}={value}"
        self.group = group


class AnyOf:
    """An ``anyof`` dependency: its members still waiting, and its job's description."""

    __slots__ = ("members", "description")

    def __init__(self):
        self.members: list[After] = []
        self.description = ""


class DependencyAfter:
    def __init__(self, plugin):
        self.plugin = plugin
        #: every outstanding dependency, in the order they were made (for plugin.query)
        self.outstanding: list[After] = []

    # --- registering a dependency -----------------------------------------------------

    def depend(self, p, topic, args):
        dependency = args["dependency"]
        scheme = dependency.get("scheme")
        value = dependency.get("value")
        type_ = SCHEMES.get(scheme)
        if type_ is None:
            return p.reject_job(args, "invalid dependency scheme: %s", scheme)
        found = self._antecedent(p, args, scheme, value)
        if isinstance(found, int):
            return found
        target, antecedent = found
        job_id = args["id"]
        after = After(type_, target, job_id, value)
        refused = self._add(p, args, after.description)
        if refused is not None:
            return refused
        if scheme == "after":
            p.raise_exception(job_id, "dependency", 3,
                              'dependency scheme "after" is deprecated, use "afterstart"')
        if antecedent["state"] == State.INACTIVE:
            reason = _unsatisfiable(p, after, value)
            if reason is not None:
                return p.reject_job(args, "%s", reason)
            p.dependency_remove(job_id, after.description)
            return 0
        if type_ == AFTER_START and p.job_event_posted(target, "start"):
            p.dependency_remove(job_id, after.description)
            return 0
        self._wait(p, after)
        return 0

    def depend_any(self, p, topic, args):
        """``anyof:SCHEME:ID,SCHEME:ID...``: released by the first member satisfied."""
        value = args["dependency"].get("value")
        job_id = args["id"]
        group = AnyOf()
        members = []
        for item in str(value).split(","):
            scheme, _colon, target_text = item.partition(":")
            type_ = SCHEMES.get(scheme)
            if type_ is None:
                return p.reject_job(args, "dependency: anyof: invalid dependency scheme: %s",
                                    scheme)
            found = self._antecedent(p, args, scheme, target_text)
            if isinstance(found, int):
                return found
            members.append((After(type_, found[0], job_id, target_text, group), found[1]))
        group.description = "any-of=" + ",".join(after.description for after, _ in members)
        refused = self._add(p, args, group.description)
        if refused is not None:
            return refused
        reasons = []
        for after, antecedent in members:
            if antecedent["state"] == State.INACTIVE:
                reason = _unsatisfiable(p, after, str(after.target))
                if reason is None:
                    p.dependency_remove(job_id, group.description)
                    return 0
                reasons.append(reason)
            elif after.type_ == AFTER_START and p.job_event_posted(after.target, "start"):
                p.dependency_remove(job_id, group.description)
                return 0
            else:
                group.members.append(after)
        if not group.members:
            return p.reject_job(args, "dependency: anyof: none can be satisfied (%s)",
                                "; ".join(reasons))
        for after in group.members:
            self._wait(p, after)
        return 0

    def _antecedent(self, p, args, scheme, value):
        """``(target id, its job record)``, or what rejecting the job returned."""
        target = _parse_jobid(value)
        if target is None:
            return p.reject_job(args, 'dependency: %s: "%s" is not a valid jobid', scheme,
                                value)
        try:
            antecedent = p.job_lookup(target)
        except OSError as exc:
            reason = "job not found" if exc.errno == errno.ENOENT else exc.strerror
            return p.reject_job(args, "dependency: %s: id %s: %s", scheme, value, reason)
        if antecedent["userid"] != args["userid"]:
            return p.reject_job(args, "%s: Permission denied for job %s", scheme, value)
        return target, antecedent

    def _add(self, p, args, description):
        """Add the dependency: None once added, else what the callback returns (0 when it
        was satisfied before a restart, so nothing is left to wait for)."""
        try:
            p.dependency_add(args["id"], description)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                return 0
            return p.reject_job(args, "Unable to add job dependency")
        return None

    def _wait(self, p, after):
        _aux_list(p, after.target, _WAITERS).append(after)
        _aux_list(p, after.depid, _WAITING_ON, self._forget).append(after)
        self.outstanding.append(after)
        if after.type_ == AFTER_START:
            p.job_subscribe(after.target)

    # --- releasing ----------------------------------------------------------------------

    def started(self, p, topic, args):
        """An antecedent started: release its ``afterstart`` dependents."""
        waiters = p.job_aux_get(CURRENT_JOB, _WAITERS)
        if waiters:
            self._release(p, waiters, AFTER_START)
        p.job_unsubscribe(CURRENT_JOB)
        return 0

    def left_depend(self, p, topic, args):
        """A dependent reached PRIORITY: it waits on nothing any more."""
        p.job_aux_set(CURRENT_JOB, _WAITING_ON, None)
        return 0

    def inactive(self, p, topic, args):
        waiters = p.job_aux_get(CURRENT_JOB, _WAITERS)
        if waiters:
            self._release_dependents(p, waiters)
        # A dependent that went from DEPEND straight to CLEANUP (canceled) stops waiting.
        p.job_aux_set(CURRENT_JOB, _WAITING_ON, None)
        return 0

    def _release_dependents(self, p, waiters):
        if not p.job_event_posted(CURRENT_JOB, "alloc"):
            self._release(p, waiters, AFTER_FINISH)
            self._raise_unsatisfiable(p, waiters, "job never started")
            return
        if p.get_job_result(CURRENT_JOB) == Result.COMPLETED:
            self._release(p, waiters, AFTER_FINISH | AFTER_SUCCESS)
        else:
            mask = AFTER_FINISH | AFTER_FAILURE
            if _ended_by_exception(p, CURRENT_JOB):
                mask |= AFTER_EXCEPTION
            self._release(p, waiters, mask)
        self._raise_unsatisfiable(p, waiters, "can never be satisfied")

    def _release(self, p, waiters, mask):
        for after in [after for after in waiters if after.type_ & mask]:
            waiters.remove(after)
            self._forget_one(after)
            group = after.group
            description = after.description
            if group is not None:
                if after not in group.members:
                    continue  # its list was released by another member already
                self._drop_group(p, group)
                description = group.description
            try:
                p.dependency_remove(after.depid, description)
            except OSError:
                p.raise_exception(after.depid, "dependency", 0,
                                  "Failed to remove dependency %s", description)

    def _raise_unsatisfiable(self, p, waiters, why):
        for after in list(waiters):
            waiters.remove(after)
            self._forget_one(after)
            group = after.group
            if group is None:
                p.raise_exception(after.depid, "dependency", 0, "dependency %s %s",
                                  after.description, why)
            elif after in group.members:
                group.members.remove(after)
                if not group.members:
                    p.raise_exception(after.depid, "dependency", 0,
                                      "dependency %s can never be satisfied",
                                      group.description)

    def _drop_group(self, p, group):
        """An any-of list is satisfied: its other members stop waiting."""
        members, group.members = group.members, []
        for member in members:
            self._forget_one(member)
            try:
                waiters = p.job_aux_get(member.target, _WAITERS)
            except OSError:
                continue
            if waiters and member in waiters:
                waiters.remove(member)

    def _forget(self, waiting_on):
        """A dependent's list is dropped: take its entries off the antecedents' lists."""
        for after in waiting_on:
            self._forget_one(after)
            try:
                waiters = self.plugin.job_aux_get(after.target, _WAITERS)
            except OSError:
                continue
            if waiters and after in waiters:
                waiters.remove(after)

    def _forget_one(self, after):
        if after in self.outstanding:
            self.outstanding.remove(after)

    def query(self, p, topic, args):
        args.pack(dependencies=[
            {"id": after.target, "depid": after.depid, "type": TYPE_NAMES[after.type_],
             "description": after.description}
            for after in self.outstanding
        ])
        return 0


def _parse_jobid(value):
    if not isinstance(value, str) or not value.isdecimal():
        return None
    job_id = int(value)
    return job_id if 0 < job_id < CURRENT_JOB else None


def _unsatisfiable(p, after, value) -> str | None:
    """Why ``after`` can never be satisfied by its inactive antecedent, or None when the
    antecedent has satisfied it."""
    target = after.target
    if after.type_ == AFTER_FINISH:
        return None
    if not p.job_event_posted(target, "alloc") or (
            after.type_ == AFTER_START and not p.job_event_posted(target, "start")):
        return f"dependency: after: {value} never started"
    result = p.get_job_result(target)
    if after.type_ == AFTER_SUCCESS and result != Result.COMPLETED:
        return f"dependency: afterok: job {value} failed or was canceled"
    if after.type_ == AFTER_FAILURE and result == Result.COMPLETED:
        return f"dependency: afternotok: job {value} succeeded"
    if after.type_ == AFTER_EXCEPTION and not _ended_by_exception(p, target):
        return f"dependency: afterexcept: job {value} did not end with an exception"
    return None


def _ended_by_exception(p, job_id) -> bool:
    end_event = p.job_lookup(job_id).get("end_event") or {}
    return end_event.get("name") == "exception"


def _aux_list(p, job_id, name, destructor=None) -> list:
    entries = p.job_aux_get(job_id, name)
    if entries is None:
        entries = []
        p.job_aux_set(job_id, name, entries, destructor)
    return entries


def plugin_init(p):
    after = DependencyAfter(p)
    for scheme in SCHEMES:
        p.add_handler(f"job.dependency.{scheme}", after.depend)
    p.add_handler("job.dependency.anyof", after.depend_any)
    p.add_handler("job.state.priority", after.left_depend)
    p.add_handler("job.state.inactive", after.inactive)
    p.add_handler("job.event.start", after.started)
    p.add_handler("plugin.query", after.query)
