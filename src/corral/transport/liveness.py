"""Whether a peer is alive, from when it was last heard: the heartbeat state machine.

``alive`` → ``unresponsive`` (silent for ``unresponsive_after``: give the node no new work)
→ ``lost`` (silent for ``lost_after``); hearing anything from the peer makes it ``alive``
again.  Pure bookkeeping over a clock the caller passes in, so the rules are tested without
waiting; the transports call `check` from one periodic sweep, never a timer per peer.
"""

from .settings import Settings

ALIVE = "alive"
UNRESPONSIVE = "unresponsive"
LOST = "lost"


class Liveness:
    __slots__ = ("settings", "last_heard", "state")

    def __init__(self, settings: Settings, now: float):
        self.settings = settings
        self.last_heard = now
        self.state = ALIVE

    def heard(self, now: float) -> str | None:
        """The peer spoke at ``now``: the new state if that changed it (back to alive)."""
        self.last_heard = now
        if self.state != ALIVE:
            self.state = ALIVE
            return ALIVE
        return None

    def check(self, now: float) -> str | None:
        """The new state if the silence up to ``now`` changed it.  A sweep that comes late
        may go from alive straight to lost: lost is what matters then."""
        silence = now - self.last_heard
        if silence >= self.settings.lost_after:
            state = LOST
        elif silence >= self.settings.unresponsive_after:
            state = UNRESPONSIVE
        else:
            return None
        if state == self.state:
            return None
        self.state = state
        return state
