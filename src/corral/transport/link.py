"""One controller–agent pair as either end sees it: numbered messages out, applied messages
in, acknowledgements both ways, and how recently the other end was heard.

Both transports keep one `Link` per peer and feed it every frame the peer sends; it decides
what is applied, what is acknowledged and what is sent again.  ``send_frame`` is None while
the peer is not registered on a live connection: messages then wait in the outbox and go out
with the next replay.
"""

from . import frames
from .liveness import Liveness
from .sequence import APPLY, GAP, Inbox, Outbox


class Link:
    __slots__ = ("outbox", "inbox", "liveness", "send_frame")

    def __init__(self, settings, now: float, inbox: Inbox):
        self.outbox = Outbox()
        self.inbox = inbox
        self.liveness = Liveness(settings, now)
        self.send_frame = None

    def send(self, message: dict):
        seq = self.outbox.add(message)
        if self.send_frame is not None:
            self._send_data(seq, message)

    def _send_data(self, seq: int, message: dict):
        inbox = self.inbox
        self.send_frame(frames.data(seq, inbox.applied, message))
        inbox.acknowledged = inbox.applied

    def replay(self) -> int:
        """Send again every message not acknowledged, oldest first; how many."""
        if self.send_frame is None:
            return 0
        for seq, message in self.outbox.pending:
            self._send_data(seq, message)
        return len(self.outbox)

    def receive(self, frame: dict, apply):
        """Take the acknowledgement and the numbered message of ``frame`` (already decoded;
        FrameError if its numbers are bad); ``apply(message)`` only for the next one."""
        ack = frames.integer(frame, "ack")
        if ack is not None:
            self.outbox.acknowledge(ack)
        if frame.get("resend"):
            self.replay()
        seq = frames.integer(frame, "seq")
        if seq is None:
            return
        verdict = self.inbox.accept(seq)
        if verdict == APPLY:
            apply(frame.get("msg"))
        elif verdict == GAP and self.inbox.ask_resend() and self.send_frame is not None:
            self.send_frame(frames.encode({"ack": self.inbox.applied, "resend": True}))
            self.inbox.acknowledged = self.inbox.applied

    def acknowledge(self):
        """Tell the peer what was applied, unless a frame since has told it already."""
        inbox = self.inbox
        if inbox.applied > inbox.acknowledged and self.send_frame is not None:
            self.send_frame(frames.encode({"ack": inbox.applied}))
            inbox.acknowledged = inbox.applied
