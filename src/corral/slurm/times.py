"""Slurm's time formats: time limits (``-t``), durations as squeue and sacct print them,
begin times (``--begin``, ``sacct -S``) and timestamps.

Slurm writes durations two ways: squeue's ``TIME`` drops leading zero fields (``0:05``,
``1:02:03``, ``2-00:00:00``) while sacct's ``Elapsed`` and ``Timelimit`` keep them
(``00:00:05``).  Timestamps are local time without a zone, ``2026-12-01T13:45:00``.

The patterns are kept as text and compiled by `re` on first use (its cache), and `datetime`
is imported by the one function that reads dates: squeue, polled once a second, uses
neither, and compiling them all at import cost it a millisecond.
"""

import re
import time

UNLIMITED_WORDS = ("unlimited", "infinite", "-1")

_LIMIT_FORMS = [
    (r"(\d+)", ("minutes",)),
    (r"(\d+):(\d+)", ("minutes", "seconds")),
    (r"(\d+):(\d+):(\d+)", ("hours", "minutes", "seconds")),
    (r"(\d+)-(\d+)", ("days", "hours")),
    (r"(\d+)-(\d+):(\d+)", ("days", "hours", "minutes")),
    (r"(\d+)-(\d+):(\d+):(\d+)", ("days", "hours", "minutes", "seconds")),
]
_SECONDS = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}


def parse_limit(text: str) -> int:
    """Seconds of a Slurm time limit (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``,
    ``D-HH:MM``, ``D-HH:MM:SS``); 0 for ``UNLIMITED``/``INFINITE``/``0``."""
    text = text.strip()
    if text.lower() in UNLIMITED_WORDS:
        return 0
    for pattern, units in _LIMIT_FORMS:
        match = re.fullmatch(pattern, text)
        if match:
            pairs = zip(match.groups(), units, strict=True)
            return sum(int(value) * _SECONDS[unit] for value, unit in pairs)
    raise ValueError(f"invalid time limit '{text}' (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or "
                     "D-HH:MM:SS)")


def squeue_duration(seconds: float) -> str:
    """squeue's ``TIME``/``TIME_LIMIT`` form: ``0:05``, ``12:34``, ``1:02:03``, ``2-03:04:05``."""
    seconds = int(max(seconds, 0))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{seconds:02d}"
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"


def sacct_duration(seconds: float) -> str:
    """sacct's ``Elapsed``/``Timelimit`` form: ``00:00:05``, ``1-00:00:00``."""
    seconds = int(max(seconds, 0))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{days}-{clock}" if days else clock


def limit_text(seconds: float, style=squeue_duration) -> str:
    return "UNLIMITED" if not seconds else style(seconds)


def timestamp(epoch: float | None, missing: str = "N/A") -> str:
    if not epoch:
        return missing
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(epoch))


_RELATIVE = r"now(?:([+-])(\d+)(seconds|minutes|hours|days|weeks)?)?"
_UNIT_SECONDS = {None: 1, "seconds": 1, "minutes": 60, "hours": 3600, "days": 86400,
                 "weeks": 604800}
_CLOCK = r"(\d{1,2}):(\d{2})(?::(\d{2}))?(am|pm)?"
_DATE = r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?"
_US_DATE = r"(\d{1,2})/(\d{1,2})(?:/(\d{2}))?"
_NAMED = {"midnight": (0, 0), "noon": (12, 0), "elevenses": (11, 0), "fika": (15, 0),
          "teatime": (16, 0)}


def parse_time(text: str, now: float | None = None) -> float:
    """Epoch seconds of a Slurm time specification, as ``--begin`` and ``sacct -S`` read it:
    ``now[{+|-}N[seconds|minutes|hours|days|weeks]]``, ``HH:MM[:SS][am|pm]`` (today, or tomorrow
    if past), ``YYYY-MM-DD[THH:MM[:SS]]``, ``MM/DD[/YY]``, ``today``, ``tomorrow``,
    ``midnight``, ``noon``, ``teatime``."""
    import datetime

    now = time.time() if now is None else now
    word = text.strip().lower()
    today = datetime.datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0,
                                                         microsecond=0)
    match = re.fullmatch(_RELATIVE, word)
    if match:
        sign, count, unit = match.groups()
        offset = int(count or 0) * _UNIT_SECONDS[unit]
        return now - offset if sign == "-" else now + offset
    if word == "today":
        return today.timestamp()
    if word == "tomorrow":
        return (today + datetime.timedelta(days=1)).timestamp()
    if word in _NAMED:
        hour, minute = _NAMED[word]
        return _next_clock(today, now, hour, minute, 0)
    match = re.fullmatch(_CLOCK, word)
    if match:
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if match[4]:
            hour = hour % 12 + (12 if match[4].lower() == "pm" else 0)
        return _next_clock(today, now, hour, minute, second)
    match = re.fullmatch(_DATE, text.strip())
    if match:
        values = [int(value or 0) for value in match.groups()]
        return datetime.datetime(*values).timestamp()
    match = re.fullmatch(_US_DATE, word)
    if match:
        year = 2000 + int(match[3]) if match[3] else today.year
        return datetime.datetime(year, int(match[1]), int(match[2])).timestamp()
    raise ValueError(f"invalid time specification '{text}'")


def _next_clock(today, now, hour, minute, second) -> float:
    moment = today.replace(hour=hour, minute=minute, second=second).timestamp()
    return moment if moment >= now else moment + 86400
