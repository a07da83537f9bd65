"""The scheduler: an ordered queue of allocation requests over a resource pool.

The job manager sends a request (an `AllocRequest`, not its record of the job) when a job
reaches SCHED with a non-zero priority, cancels it when the job leaves SCHED, and frees
resources when a job releases them; every answer (`AllocAnswers`) names the job by its id.
The scheduler answers on its own loop iteration (as Flux's separate scheduler module answers
by message), in priority order, with the queue policy each queue is configured with: ``fcfs``
(a request that does not fit blocks the ones behind it), ``easy`` or ``conservative``
backfilling.
"""

from .policies import QueuePolicies
from .pool import NodeSpec, ResourcePool
from .requests import AllocAnswers, AllocRequest
from .scheduler import Scheduler

__all__ = ["AllocAnswers", "AllocRequest", "NodeSpec", "QueuePolicies", "ResourcePool",
           "Scheduler"]
