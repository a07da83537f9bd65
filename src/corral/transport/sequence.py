"""Numbering, acknowledgement and replay of the messages of one direction of one link.

ZeroMQ drops what was queued on a connection that breaks, so every message is numbered by
its sender (1, 2, ... within the sender's session), kept in an `Outbox` until the receiver
acknowledges it, and sent again after a reconnect.  The receiver's `Inbox` applies a message
only if it is the next one expected: an old number is a replay it already applied (dropped,
so nothing is applied twice), a number beyond the next one means something in between was
lost (dropped too, and the sender is asked to send again from the gap, so order is kept).

A session is the sender's incarnation (an agent's boot id, a controller's start): a new one
starts a new numbering, and the receiver starts from where the sender says it resumes.

A receiver acknowledges only what is ``durable``: what it applied, or, for an inbox that is
``gated`` (the controller's, whose store commits what a message did a moment later), what it
has been told is stored (`stored`).  So a sender keeps a message until its effects are on
disk, and sends it again to the next receiver if this one dies before that.
"""

from collections import deque

from .shared import SharedIn, SharedOut

APPLY = "apply"
DUPLICATE = "duplicate"
GAP = "gap"


class Outbox:
    """Messages sent and not yet acknowledged, oldest first; ``shared``: the environments
    they may name (`shared`), which go wherever the messages go."""

    __slots__ = ("next_seq", "pending", "shared")

    def __init__(self):
        self.next_seq = 1
        self.pending: deque[tuple[int, dict]] = deque()
        self.shared = SharedOut()

    def add(self, message: dict) -> int:
        """Number ``message`` and keep it until acknowledged; its number."""
        seq = self.next_seq
        self.next_seq = seq + 1
        self.pending.append((seq, message))
        return seq

    def acknowledge(self, seq: int):
        """The receiver has applied every message up to ``seq``."""
        pending = self.pending
        while pending and pending[0][0] <= seq:
            pending.popleft()

    @property
    def resume_from(self) -> int:
        """The first number the receiver has not been acknowledged as having."""
        return self.pending[0][0] if self.pending else self.next_seq

    def __len__(self):
        return len(self.pending)


class Inbox:
    """The highest message number applied from one sender session, and the highest that may
    be acknowledged; ``shared``: the environments that session's messages may name."""

    __slots__ = ("session", "applied", "durable", "gated", "acknowledged", "resend_asked",
                 "shared")

    def __init__(self, session: str, resume_from: int = 1, gated: bool = False):
        self.session = session
        self.applied = resume_from - 1
        self.durable = self.applied  # what the sender may forget
        self.gated = gated  # durable only once `stored` says so
        self.acknowledged = self.applied  # the highest number told to the sender
        self.resend_asked = -1  # `applied` when a resend was last asked for
        self.shared = SharedIn()

    def accept(self, seq: int) -> str:
        """`APPLY` (and count it applied), `DUPLICATE` or `GAP` for message ``seq``."""
        if seq == self.applied + 1:
            self.applied = seq
            if not self.gated:
                self.durable = seq
            return APPLY
        return DUPLICATE if seq <= self.applied else GAP

    def stored(self, seq: int):
        """What messages up to ``seq`` did is stored: they may be acknowledged."""
        if seq > self.durable:
            self.durable = seq

    def ask_resend(self) -> bool:
        """Whether to ask for a resend after a gap: once per gap, not once per message that
        arrives beyond it."""
        if self.resend_asked == self.applied:
            return False
        self.resend_asked = self.applied
        return True
