"""Length-prefixed JSON frames: a 4-byte big-endian length, then one UTF-8 JSON object.

The codec is shared by the controller's socket server and the client.  It owns framing and
the text rules every frame obeys, nothing else: what the objects mean is the broker's
business.  Text is Unicode without NUL: JSON can spell a lone UTF-16 surrogate (``"\\ud800"``)
or a NUL (``"\\u0000"``), which no store, path, environment or process can hold, so a request
carrying either is refused here, before any service sees it.  Both can only come as ``\\u``
escapes (raw UTF-8 cannot encode a surrogate and JSON refuses raw control characters), so a
search of the raw bytes (first for any backslash, a ``memchr``) clears almost every frame
without looking at its strings.
"""

import json
import struct

from ..jsoncodec import dumps
from ..limits import MAX_REPLY_FRAME

HEADER = struct.Struct(">I")
#: Bytes of an oversized frame read to find its matchtag before the rest is skipped.
_HEAD = 64

_decode = json.JSONDecoder().decode


class FrameError(ValueError):
    """A frame is refused; ``matchtag`` is its request's tag when it could be read (else 0)."""

    def __init__(self, text: str, matchtag: int = 0):
        super().__init__(text)
        self.matchtag = matchtag


def encode(obj) -> bytes:
    """One frame holding ``obj``; ValueError names the first string that is not valid text."""
    try:
        body = dumps(obj).encode()
    except UnicodeEncodeError:
        raise ValueError(f"{invalid_text(obj)}: not valid UTF-8 text") from None
    return HEADER.pack(len(body)) + body


def decode_body(body: bytes):
    """Decode one frame body; raises ValueError with a one-line reason."""
    try:
        return _decode(body.decode())
    except UnicodeDecodeError as exc:
        raise ValueError(f"frame is not UTF-8: byte {exc.start} is invalid") from None
    except RecursionError:
        raise ValueError("frame is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise ValueError(f"frame is not valid JSON: {exc}") from None


def decode_request(body: bytes):
    """Decode one request frame and check its text; raises FrameError with a one-line reason
    and, once the frame is an object, its matchtag."""
    try:
        request = decode_body(body)
    except ValueError as exc:
        raise FrameError(str(exc)) from None
    if not isinstance(request, dict):
        raise FrameError("frame is not an object")
    if b"\\" in body and (b"\\u0000" in body or b"\\ud" in body or b"\\uD" in body):
        where = invalid_text(request)
        if where is not None:
            matchtag = request.get("matchtag")
            raise FrameError(f"{where}: not valid text (a NUL or a lone UTF-16 surrogate)",
                             matchtag if type(matchtag) is int else 0)
    return request


def invalid_text(value, where: str = "request") -> str | None:
    """Where in ``value`` the first string (or key) with a NUL or a lone surrogate is."""
    if isinstance(value, str):
        return None if _valid_text(value) else where
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not _valid_text(key):
                return f"{where} (a key)"
            place = invalid_text(item, f"{where}.{str(key)[:64]}")
            if place is not None:
                return place
    elif isinstance(value, list):
        for index, item in enumerate(value):
            place = invalid_text(item, f"{where}[{index}]")
            if place is not None:
                return place
    return None


def _valid_text(text: str) -> bool:
    if "\0" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class FrameReader:
    """Incremental deframer: feed bytes, get complete frame bodies.

    A frame longer than ``limit`` is not kept: its first bytes are read for its matchtag, the
    rest is skipped as it arrives, and in its place `feed` returns a `FrameError`.
    """

    __slots__ = ("_buffer", "_limit", "_skip", "_skipped_head", "_skipped_length")

    def __init__(self, limit: int = MAX_REPLY_FRAME):
        self._buffer = bytearray()
        self._limit = limit
        self._skip = 0  # bytes of an oversized frame still to be dropped
        self._skipped_head = b""
        self._skipped_length = 0

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished frame held until the rest arrives."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list:
        """The complete frame bodies (bytes) in order, a `FrameError` for each refused one."""
        bodies: list = []
        if self._skip:
            data = self._drop(data, bodies)
        buffer = self._buffer
        buffer += data
        offset = 0
        while len(buffer) - offset >= 4:
            (length,) = HEADER.unpack_from(buffer, offset)
            end = offset + 4 + length
            if length > self._limit:
                head_end = offset + 4 + _HEAD
                if len(buffer) < head_end:
                    break  # wait for the bytes that name its matchtag
                self._skip = length
                self._skipped_length = length
                self._skipped_head = bytes(buffer[offset + 4 : head_end])
                buffer[:] = self._drop(bytes(buffer[offset + 4 :]), bodies)
                offset = 0
                continue
            if end > len(buffer):
                break
            bodies.append(bytes(buffer[offset + 4 : end]))
            offset = end
        if offset:
            del buffer[:offset]
        return bodies

    def _drop(self, data: bytes, bodies: list) -> bytes:
        """Drop what is left of an oversized frame; once it is all gone, add its error."""
        dropped = min(self._skip, len(data))
        self._skip -= dropped
        if self._skip:
            return b""
        bodies.append(FrameError(
            f"frame of {self._skipped_length} bytes exceeds the {self._limit} byte limit",
            _matchtag_in(self._skipped_head),
        ))
        return data[dropped:]


def _matchtag_in(head: bytes) -> int:
    """The matchtag at the start of a frame (clients write it first), else 0."""
    prefix = b'"matchtag":'
    start = head.find(prefix)
    if start < 0:
        return 0
    digits = head[start + len(prefix) :].lstrip()[:20]
    end = 0
    while end < len(digits) and digits[end : end + 1].isdigit():
        end += 1
    return int(digits[:end]) if end else 0
