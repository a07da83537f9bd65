"""Requests as services see them, and the error a service raises to refuse one.

A `Message` carries the requester's credentials (uid and rolemask from the socket's peer
credentials, or the owner's for requests made inside the controller) and knows how to send its
responses back, whether the requester is a socket client or a future in this process.

A streaming service that can send a lot (a job's output) asks `congested` after each response
and, when the requester has not read what it was sent, waits for `when_drained` instead of
sending more: the replies held for one client stay bounded whatever it asks for.
"""

import errno
import os


class RequestError(OSError):
    """Raised by a service to answer a request with ``(errno, text)``."""

    def __init__(self, errnum: int, text: str | None = None):
        super().__init__(errnum, text or os.strerror(errnum))


class Message:
    """One request; respond once, or many times for a streaming request ending in ENODATA."""

    __slots__ = (
        "topic",
        "payload",
        "userid",
        "rolemask",
        "streaming",
        "_reply",
        "_cancel_callbacks",
        "responded",
        "cancelled",
        "flow",
    )

    def __init__(self, topic, payload, userid, rolemask, reply, streaming=False):
        self.topic = topic
        self.payload = payload
        self.userid = userid
        self.rolemask = rolemask
        self.streaming = streaming
        self._reply = reply
        self._cancel_callbacks = None
        self.responded = False
        self.cancelled = False
        self.flow = None  # the socket connection the responses go to (None: in-process)

    def respond(self, payload=None):
        """Send a successful response (one of several if the request is streaming)."""
        if self.cancelled or (self.responded and not self.streaming):
            return
        self.responded = True
        self._reply(payload, 0, None)

    def respond_error(self, errnum: int, text: str | None = None):
        """Send an error response; for a streaming request this also ends the stream."""
        if self.cancelled or (self.responded and not self.streaming):
            return
        self.responded = True
        self.streaming = False
        self._reply(None, errnum, text or os.strerror(errnum))

    def end_stream(self):
        """End a streaming response the way Flux does: with ENODATA."""
        self.respond_error(errno.ENODATA)

    @property
    def congested(self) -> bool:
        """Has the requester left enough responses unread that a stream should wait?"""
        return self.flow is not None and self.flow.writing_paused

    def when_drained(self, callback):
        """Call ``callback()`` once the requester has read its responses (at once if it
        has); the same callback is called once however often it is passed."""
        if self.congested:
            self.flow.drained_callbacks[callback] = None
        else:
            callback()

    def on_cancel(self, callback):
        """Call ``callback(msg)`` if the requester goes away before the stream ends."""
        if self._cancel_callbacks is None:
            self._cancel_callbacks = []
        self._cancel_callbacks.append(callback)

    def cancel(self):
        """The requester is gone: stop responding and tell whoever asked to be told."""
        if self.cancelled:
            return
        self.cancelled = True
        for callback in self._cancel_callbacks or ():
            callback(self)
        self._cancel_callbacks = None

    def payload_object(self) -> dict:
        """The payload as a dict, refusing anything else with EPROTO."""
        payload = self.payload
        if payload is None:
            return {}
        if not isinstance(payload, dict):
            raise RequestError(errno.EPROTO, f"{self.topic}: payload must be a JSON object")
        return payload
