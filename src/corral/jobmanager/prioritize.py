"""Priorities: one job at a time (reprioritize_job) or all at once (reprioritize_all).

Urgency 0 (hold) and 31 (expedite) override whatever a plugin says; an unchanged priority in
SCHED posts nothing; a held job's pending request is cancelled; reprioritize-all asks
``job.priority.get`` for every PRIORITY and SCHED job and re-sorts the scheduler's queue once.
"""

from ..states import State
from .plugin import PRIORITY_MAX, PRIORITY_MIN, URGENCY_EXPEDITE, URGENCY_HOLD


class Prioritize:
    def __init__(self, manager):
        self.manager = manager

    def _reprioritize_one(self, job, priority, oneshot) -> bool:
        """Post a new priority; True if the job's pending request needs a re-sort."""
        if job.urgency == URGENCY_HOLD:
            priority = PRIORITY_MIN
        elif job.urgency == URGENCY_EXPEDITE:
            priority = PRIORITY_MAX
        if priority == job.priority and job.state == State.SCHED:
            return False
        was_pending = job.alloc_pending
        job.priority = priority  # now: the event waits if the job is processing another
        self.manager.events.post(job, "priority", {"priority": priority})
        if was_pending and job.alloc_pending and job.state == State.SCHED:
            if priority == PRIORITY_MIN:
                self.manager.alloc.cancel(job)
            elif oneshot:
                self.manager.alloc.prioritize([job])
            else:
                return True
        return False

    def reprioritize_job(self, job, priority: int):
        if job.state in (State.PRIORITY, State.SCHED):
            self._reprioritize_one(job, priority, True)

    def reprioritize_all(self):
        manager = self.manager
        get_priority = manager.jobtap.get_priority
        changed = []
        for job in list(manager.active.values()):
            if job.state not in (State.PRIORITY, State.SCHED):
                continue
            priority = get_priority(job)
            if priority > -1 and (priority != job.priority or job.state == State.PRIORITY):
                if self._reprioritize_one(job, priority, False):
                    changed.append(job)
        if changed:
            manager.alloc.prioritize(changed)
