"""``conservative``: conservative backfilling (fluxion's ``queue-policy=conservative``).

Every job that does not fit gets a reservation, in priority order, so a job starts early only
if it delays no job ahead of it.  A pass costs more than EASY's: each waiting job is placed
on the profile.
"""

name = "conservative"
blocks_queue = False


def reserves(reservations_in_queue: int) -> bool:
    return True
