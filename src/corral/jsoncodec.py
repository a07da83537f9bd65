"""Compact JSON encoding shared by the store, the eventlog and the wire.

``json.dumps`` builds a new C encoder on every call, which costs more than encoding the small
objects the job manager writes by the million (event contexts, frames).  One reusable C
encoder does the same work for a third of the price; the pure-Python encoder is the fallback
where CPython's accelerator is missing.
"""

import json
from json.encoder import c_make_encoder, encode_basestring

_python_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_c_encoder = (
    c_make_encoder(None, None, encode_basestring, None, ":", ",", False, False, True)
    if c_make_encoder is not None
    else None
)


def dumps(value) -> str:
    """``value`` as compact JSON text (no spaces, UTF-8 kept as is)."""
    if _c_encoder is None:
        return _python_encoder.encode(value)
    return "".join(_c_encoder(value, 0))
