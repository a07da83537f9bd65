"""What the job manager asks of the scheduler, and the interface it answers through.

The scheduler never sees the job manager's record of a job: an `AllocRequest` holds what a
placement needs (as Flux's scheduler gets an alloc request, not the job), and every answer
names the job by its id.  Whoever sends requests implements `AllocAnswers`.
"""

import dataclasses
from typing import Protocol


@dataclasses.dataclass(slots=True)
class AllocRequest:
    """One job's allocation request: ``request`` is its jobspec's `corral.jobspec.Request`;
    ``priority`` changes while the request waits (`Scheduler.prioritize`)."""

    id: int
    userid: int
    queue: str | None
    priority: int
    request: object


class AllocAnswers(Protocol):
    """The scheduler's answers, by job id, each at most once per request."""

    def allocated(self, job_id: int, R: dict, annotations: dict, ranks: dict) -> None:
        """The request is granted: ``R`` (RFC 20) and ``ranks``, what R says decoded
        (``{rank: (core ids, gpu ids)}``); ``annotations`` for the job (``sched``)."""

    def denied(self, job_id: int, note: str) -> None:
        """The request can never be granted; ``note`` says why in one sentence."""

    def annotate(self, job_id: int, annotations: dict) -> None:
        """What a waiting job is told: its reservation and why it waits."""
