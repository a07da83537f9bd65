"""``fcfs``: first come, first served (Flux's sched-simple, fluxion's ``queue-policy=fcfs``).

The first job of a queue that does not fit stops its queue: nothing behind it starts until it
has.  It gets no reservation, so jobs of other queues on the same nodes may pass it.
"""

name = "fcfs"
blocks_queue = True


def reserves(reservations_in_queue: int) -> bool:
    return False
