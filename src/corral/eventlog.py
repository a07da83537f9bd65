"""RFC 18 eventlog entries: creation, encoding, decoding and the text form.

An entry is a plain dict ``{"timestamp": float, "name": str, "context": {...}}`` with
``context`` omitted when empty, exactly as RFC 18 writes it.  Keeping entries as dicts (not
objects) lets them travel unchanged to plugins, the store and clients.
"""

import json
import time

from .jsoncodec import dumps


def entry(name: str, context: dict | None = None, timestamp: float | None = None) -> dict:
    """A new entry stamped now (or at ``timestamp``)."""
    if timestamp is None:
        timestamp = time.time()
    if context:
        return {"timestamp": timestamp, "name": name, "context": context}
    return {"timestamp": timestamp, "name": name}


def encode(event: dict) -> str:
    """One RFC 18 line, without the trailing newline."""
    return dumps(event)


def encode_context(context: dict | None) -> str | None:
    """The context alone, as the store keeps it (``None`` when absent)."""
    return dumps(context) if context else None


def decode(line: str) -> dict:
    """Parse one RFC 18 line; raises ValueError naming what is wrong."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"eventlog entry is not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise ValueError("eventlog entry is not a JSON object")
    if not isinstance(event.get("timestamp"), int | float):
        raise ValueError("eventlog entry has no numeric timestamp")
    if not isinstance(event.get("name"), str) or not event["name"]:
        raise ValueError("eventlog entry has no name")
    if "context" in event and not isinstance(event["context"], dict):
        raise ValueError("eventlog entry context is not an object")
    return event


def format_text(event: dict, time_format: str = "raw", t0: float | None = None) -> str:
    """One entry the way ``flux job eventlog`` prints it: ``TIME NAME key=value ...``.

    Values are JSON-encoded so strings keep their quotes and nothing is ambiguous.
    ``time_format`` is ``raw`` (seconds since the epoch), ``iso`` (UTC, ISO 8601) or
    ``offset`` (seconds since ``t0``, the first entry).
    """
    timestamp = event["timestamp"]
    if time_format == "iso":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp))
        stamp += f".{int((timestamp % 1) * 1e6):06d}Z"
    elif time_format == "offset":
        stamp = f"{timestamp - (t0 if t0 is not None else timestamp):f}"
    else:
        stamp = f"{timestamp:f}"
    words = [stamp, event["name"]]
    for key, value in (event.get("context") or {}).items():
        words.append(f"{key}={dumps(value)}")
    return " ".join(words)
