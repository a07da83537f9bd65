"""One controller–agent pair as either end sees it: numbered messages out, applied messages
in, acknowledgements both ways, and how recently the other end was heard.

Both transports keep one `Link` per peer and feed it every frame the peer sends; it decides
what is applied, what is acknowledged and what is sent again.  ``send_frame`` is None while
the peer is not registered on a live connection: messages then wait in the outbox and go out
with the next replay.  Messages sent in one turn of the event loop leave together, up to
`BATCH` in a frame, when the transport calls `flush`: one ZeroMQ message, one encryption and
one wake-up of ZeroMQ's I/O thread for all of them.  An environment the peer already has
goes out as its number (`shared`).
"""

from . import frames
from .liveness import Liveness
from .sequence import APPLY, GAP, Inbox, Outbox

#: Messages in one frame at most.
BATCH = 256


class Link:
    __slots__ = ("outbox", "inbox", "liveness", "send_frame", "unsent")

    def __init__(self, settings, now: float, inbox: Inbox):
        self.outbox = Outbox()
        self.inbox = inbox
        self.liveness = Liveness(settings, now)
        self.send_frame = None
        self.unsent: list[dict] = []  # the newest messages of the outbox, not sent yet

    def send(self, message: dict) -> bool:
        """Keep ``message`` for the peer; True when `flush` is now due (the caller schedules
        it once for the turn of the loop)."""
        message = self.outbox.shared.pack(message)
        self.outbox.add(message)
        if self.send_frame is None:
            return False
        self.unsent.append(message)
        return len(self.unsent) == 1

    def flush(self):
        """Send the messages kept since the last flush."""
        unsent, self.unsent = self.unsent, []
        if unsent and self.send_frame is not None:
            self._send_messages(self.outbox.next_seq - len(unsent), unsent)

    def replay(self) -> int:
        """Send again every message not acknowledged, oldest first; how many."""
        self.unsent = []
        pending = self.outbox.pending
        if self.send_frame is None or not pending:
            return 0
        self._send_messages(pending[0][0], [message for _, message in pending])
        return len(pending)

    def _send_messages(self, first: int, messages: list):
        inbox = self.inbox
        for start in range(0, len(messages), BATCH):
            self.send_frame(frames.data(first + start, inbox.durable,
                                        messages[start:start + BATCH]))
        inbox.acknowledged = inbox.durable

    def receive(self, frame: dict, apply):
        """Take the acknowledgement and the numbered messages of ``frame`` (decoded;
        FrameError if its numbers are bad); ``apply(message)`` for each that is next."""
        ack = frames.integer(frame, "ack")
        if ack is not None:
            self.outbox.acknowledge(ack)
        if frame.get("resend"):
            self.replay()
        seq = frames.integer(frame, "seq")
        if seq is None:
            return
        messages = frame.get("msgs")
        if not isinstance(messages, list):
            raise frames.FrameError("a numbered frame without a list of messages")
        inbox = self.inbox
        for offset, message in enumerate(messages):
            verdict = inbox.accept(seq + offset)
            if verdict == APPLY:
                message = inbox.shared.unpack(message) if type(message) is dict else message
                if message is not None:
                    apply(message)
            elif verdict == GAP:
                if inbox.ask_resend() and self.send_frame is not None:
                    self.send_frame(frames.encode({"ack": inbox.durable, "resend": True}))
                    inbox.acknowledged = inbox.durable
                return

    def acknowledge(self):
        """Tell the peer what is durable, unless a frame since has told it already."""
        inbox = self.inbox
        if inbox.durable > inbox.acknowledged and self.send_frame is not None:
            self.send_frame(frames.encode({"ack": inbox.durable}))
            inbox.acknowledged = inbox.durable
