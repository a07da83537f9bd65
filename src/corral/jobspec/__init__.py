"""Jobspec version 1 (Flux RFC 25), its RFC 14 attributes and RFC 26 dependencies.

This module owns what a valid jobspec is: ``validate`` checks one the way flux-core's job-ingest
does and sums it up as a ``Request`` for the scheduler and exec; ``build`` makes one the way
``flux submit`` does from its options; ``load`` reads one from a file; ``redact`` drops the
environment the job manager need not keep. It must not apply site policy (limits, default queue
or duration): that belongs to ingest and the jobtap plugins.

corral extensions, all under ``attributes.system``: ``account``, ``qos`` and ``comment``
(strings), ``requeue`` (boolean, default true) and ``constraints`` (an RFC 31 object). Other
keys under ``attributes.system`` are left to plugins, as RFC 14 asks.
"""

from .build import build, parse_dependency
from .files import load
from .validate import JobspecError, Request, redact, validate

__all__ = ["JobspecError", "Request", "build", "load", "parse_dependency", "redact", "validate"]
