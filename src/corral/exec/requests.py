"""What the job manager asks of exec, and the interface exec answers through.

Exec never sees the job manager's record of a job: a `StartRequest` holds what starting its
tasks needs (as Flux's exec system gets a start request, not the job), every other request
(kill, cancel, a new expiration, node hooks) names the job by its id, and so does every
answer.  Whoever sends start requests implements `ExecAnswers`.
"""

import dataclasses
from typing import Protocol


@dataclasses.dataclass(slots=True)
class StartRequest:
    """One job's tasks to start (or, at a restart, to take back).

    ``request`` is the jobspec's `corral.jobspec.Request`, ``task_count`` its tasks' ``count``
    and ``system`` its ``attributes.system`` (cwd, output, stdin, test execution);
    ``environment`` the job's (None values unset a variable); ``nodelist`` and ``ranks``
    (``{rank: (core ids, gpu ids)}``) what R gives it, ``expiration`` R's (0: none);
    ``restart_count``: how often it was requeued; ``started``: its ``start`` event was posted
    (a job taken back at restart)."""

    id: int
    userid: int
    name: str | None
    request: object
    task_count: dict
    system: dict
    environment: dict | None
    nodelist: str
    ranks: dict
    ntasks: int
    restart_count: int
    expiration: float
    started: bool = False


class ExecAnswers(Protocol):
    """Exec's answers, by job id."""

    def started(self, job_id: int) -> None:
        """Every task of the job started."""

    def finished(self, job_id: int, status: int) -> None:
        """Every task of the job ended; ``status``: the largest wait status."""

    def released(self, job_id: int, ranks: list[int], final: bool) -> None:
        """Nothing of the job is left on ``ranks``; ``final``: nor anywhere else."""

    def exception(self, job_id: int, type_: str, note: str) -> None:
        """The job must end (``exec``, ``output``, ``timeout``), ``note`` says why."""

    def node_failed(self, job_id: int, note: str) -> None:
        """A node of the job is gone with its tasks there (``note`` names host and rank)."""

    def step_finished(self, job_id: int, step: int, status: int, note: str | None) -> None:
        """Every task of the job's step ``step`` ended (``note``: why it failed, if it did)."""
