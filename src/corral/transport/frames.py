"""What travels between the controller and an agent, and how it is encoded.

A frame is one JSON object (`corral.jsoncodec`), one ZeroMQ message part:

* ``{"seq": N, "ack": A, "msgs": [...]}`` — exec messages numbered N, N+1, ... by their
  sender; ``ack`` (in every frame a registered peer sends) is the highest number applied from
  the other side;
* ``{"ack": A}`` — acknowledgement alone; ``{"ack": A, "resend": true}`` after a gap;
* ``{"heartbeat": true, "ack": A}`` — an agent's heartbeat, and the controller's answer;
* ``{"hello": {...}}`` from an agent, answered by ``{"welcome": {...}}`` (with the
  controller's launch-credential key, when it has one: the channel is encrypted and the
  agent authenticated) or
  ``{"refused": "why"}``; ``{"register": true}`` asks an agent the controller does not know
  on this connection to say hello again.

Exec messages are exactly those the exec service and the node agent exchange (see
`corral.exec.service` and `corral.exec.agent`): the controller sends ``start``, ``kill``,
``stdin``, ``prolog`` and ``epilog``; an agent answers ``started``, ``failed``,
``output-lost``, ``finished``, ``stdin-written``, ``prolog-done`` and ``epilog-done``.
Each names its job (``job``, an integer), so answers come back by job id (those about a job
step also name the ``step``); ``held`` speaks for
the whole node (the jobs whose tasks an agent holds, sent to each controller that welcomes
it).  An agent also sends ``log`` (one of its log records, for the controller's log:
`corral.agent.logs`), ``rpc`` and ``rpc-close`` (a local client's request, and its end:
`corral.agent.forward`), and the controller answers ``rpc-reply``: these name no job either.
Sending anything else is a programming error; receiving anything else is logged and
dropped.
"""

import json
from json.scanner import make_scanner

from .. import jsoncodec

#: What `json.loads` runs once it has the text: without its encoding detection and its
#: checks around the value, a frame's decoding costs half (about 1.5 µs less a frame).
_scan = make_scanner(json.JSONDecoder())

TO_AGENT = frozenset({"start", "kill", "stdin", "prolog", "epilog", "rpc-reply"})
TO_CONTROLLER = frozenset({"started", "failed", "output-lost", "finished", "stdin-written",
                           "prolog-done", "epilog-done", "held", "log", "rpc", "rpc-close"})
#: Messages that name no job.
JOBLESS = frozenset({"held", "log", "rpc", "rpc-close", "rpc-reply"})


class FrameError(ValueError):
    """A frame that is not what the protocol says, with one sentence saying how."""


def encode(frame: dict) -> bytes:
    return jsoncodec.dumps(frame).encode()


def decode(data: bytes) -> dict:
    try:
        text = data.decode()
        frame, end = _scan(text, 0)
        if end != len(text):
            raise ValueError("more than one value")
    except (UnicodeDecodeError, ValueError, StopIteration):
        # Anything but one UTF-8 value alone: as `json.loads` reads it, or says why not.
        try:
            frame = json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise FrameError(f"a frame that is not JSON ({exc})") from None
    if not isinstance(frame, dict):
        raise FrameError(f"a frame that is a JSON {type(frame).__name__}, not an object")
    return frame


def check_message(message, kinds: frozenset) -> str | None:
    """Why ``message`` is not an exec message of one of ``kinds`` (None if it is)."""
    if not isinstance(message, dict):
        return f"a message that is a {type(message).__name__}, not an object"
    kind = message.get("type")
    if kind not in kinds:
        return f"a message of unknown type {kind!r}"
    if kind in JOBLESS:
        return None
    job = message.get("job")
    if not isinstance(job, int) or isinstance(job, bool):
        return f"a {kind} message without an integer job id"
    return None


def data(seq: int, ack: int, messages: list) -> bytes:
    return encode({"seq": seq, "ack": ack, "msgs": messages})


def integer(frame: dict, key: str) -> int | None:
    """``frame[key]`` if it is a non-negative integer; None if absent; FrameError if bad."""
    value = frame.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FrameError(f"a frame whose {key!r} is {value!r}, not a non-negative integer")
    return value
