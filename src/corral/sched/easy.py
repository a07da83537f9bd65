"""``easy``: EASY backfilling (fluxion's ``queue-policy=easy``, Slurm's sched/backfill with
one reservation).

The first job of a queue that does not fit gets a reservation at the earliest moment enough
resources free up (by the running jobs' time limits); jobs behind it start now only on
resources that stay free until it, or that its reservation does not need.
"""

name = "easy"
blocks_queue = False


def reserves(reservations_in_queue: int) -> bool:
    return reservations_in_queue == 0
