"""Flux Standard Duration (Flux RFC 23): durations written as ``N[SUFFIX]``.

This module owns reading durations (``-t 1.5h``, ``kill-timeout = "10s"``) into seconds and
writing seconds back the way Flux prints them. It must not decide what a duration means: zero
as "unlimited" is the jobspec's rule, not this module's.

RFC 23 suffixes are ``ms``, ``s``, ``m``, ``h`` and ``d`` (case sensitive); no suffix means
seconds; ``infinity`` (also ``inf``, in any case, since flux-core reads N with ``strtod``) is an
infinite duration and takes no suffix. Negative and NaN durations are refused.
"""

import math
import re

_SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)([A-Za-z]*)")
_INFINITY_WORDS = frozenset({"inf", "infinity", "+inf", "+infinity"})


def parse(value: str | int | float) -> float:
    """Return the seconds in FSD string ``value``; an int or float is taken as seconds.

    Raises ValueError ``invalid duration '<value>': <reason>``.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"invalid duration {value!r}: expected a string or a number")
    if isinstance(value, str):
        seconds = _parse_text(value)
    else:
        seconds = float(value)
    if math.isnan(seconds):
        raise ValueError(f"invalid duration '{value}': not a number")
    if seconds < 0:
        raise ValueError(f"invalid duration '{value}': must not be negative")
    return seconds if seconds else 0.0  # no "-0"


def format(seconds: float, precision: int = 6) -> str:
    """Return ``seconds`` as Flux prints a duration: ``90`` -> ``"1.5m"``, ``3600`` -> ``"1h"``.

    The unit is the largest of s, m, h, d that keeps the number at least 1 (ms below 0.1 s), and
    the number is printed with ``precision`` significant digits, as flux-core's
    ``fsd_format_duration_ex`` does (``precision=2`` is what ``flux jobs`` shows).
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError(f"invalid duration {seconds!r}: expected a number of seconds")
    if math.isinf(seconds) and seconds > 0:
        return "infinity"
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"invalid duration '{seconds}': must be a non-negative number")
    if 0 < seconds < 0.1:
        return f"{seconds * 1000:.{precision}g}ms"
    if seconds < 60:
        return f"{seconds:.{precision}g}s"
    if seconds < 3600:
        return f"{seconds / 60:.{precision}g}m"
    if seconds < 86400:
        return f"{seconds / 3600:.{precision}g}h"
    return f"{seconds / 86400:.{precision}g}d"


def _parse_text(text: str) -> float:
    if text.lower() in _INFINITY_WORDS:
        return math.inf
    matched = _DURATION.fullmatch(text)
    if matched is None:
        if text.lower().startswith(("inf", "+inf")):
            raise ValueError(f"invalid duration '{text}': infinity takes no unit")
        raise ValueError(
            f"invalid duration '{text}': expected a number with an optional unit "
            "(ms, s, m, h or d)"
        )
    number, unit = matched.groups()
    if unit == "":
        return float(number)
    multiplier = _SECONDS_PER_UNIT.get(unit)
    if multiplier is None:
        raise ValueError(
            f"invalid duration '{text}': unknown unit '{unit}' (expected ms, s, m, h or d)"
        )
    return float(number) * multiplier
