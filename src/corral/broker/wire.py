"""Length-prefixed JSON frames: a 4-byte big-endian length, then one UTF-8 JSON object.

The codec is shared by the controller's socket server and the client.  It owns framing and
nothing else: what the objects mean is the broker's business.
"""

import json
import struct

from ..jsoncodec import dumps

HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024

_decode = json.JSONDecoder().decode


class FrameError(ValueError):
    """The byte stream cannot be framed (the connection must be closed)."""


def encode(obj) -> bytes:
    body = dumps(obj).encode()
    return HEADER.pack(len(body)) + body


def decode_body(body: bytes):
    """Decode one frame body; raises ValueError with a one-line reason."""
    try:
        return _decode(body.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"frame is not valid JSON: {exc}") from None


class FrameReader:
    """Incremental deframer: feed bytes, get complete frame bodies."""

    __slots__ = ("_buffer",)

    def __init__(self):
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer
        buffer += data
        bodies = []
        offset = 0
        size = len(buffer)
        while size - offset >= 4:
            (length,) = HEADER.unpack_from(buffer, offset)
            if length > MAX_FRAME:
                raise FrameError(f"frame of {length} bytes exceeds the {MAX_FRAME} byte limit")
            end = offset + 4 + length
            if end > size:
                break
            bodies.append(bytes(buffer[offset + 4 : end]))
            offset = end
        if offset:
            del buffer[:offset]
        return bodies
