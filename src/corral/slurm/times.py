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


#: Slurm keeps a time limit as 32-bit minutes, the two largest values meaning no limit
#: (INFINITE) and none given (NO_VAL).
LONGEST_LIMIT = (2**32 - 3) * 60


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
            seconds = sum(int(value) * _SECONDS[unit] for value, unit in pairs)
            if seconds > LONGEST_LIMIT:
                raise ValueError(f"invalid time limit '{text}': longer than Slurm's longest, "
                                 f"{LONGEST_LIMIT // 60} minutes")
            return seconds
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
_CLOCK = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?(?P<half>am|pm)?"
#: Slurm's dated forms, each with an optional clock time: ``YYYY-MM-DD[THH:MM[:SS]]``,
#: ``MMDD[YY][-HH:MM[:SS]]``, ``MM.DD[.YY][-HH:MM[:SS]]``, ``MM/DD[/YY][-HH:MM[:SS]]``.
_DATED = [
    rf"(?P<year>\d{{4}})-(?P<month>\d{{2}})-(?P<day>\d{{2}})(?:t{_CLOCK})?",
    rf"(?P<month>\d{{2}})(?P<day>\d{{2}})(?P<yy>\d{{2}})?(?:-{_CLOCK})?",
    rf"(?P<month>\d{{1,2}})\.(?P<day>\d{{1,2}})(?:\.(?P<yy>\d{{2}}))?(?:-{_CLOCK})?",
    rf"(?P<month>\d{{1,2}})/(?P<day>\d{{1,2}})(?:/(?P<yy>\d{{2}}))?(?:-{_CLOCK})?",
]
_NAMED = {"midnight": (0, 0), "noon": (12, 0), "elevenses": (11, 0), "fika": (15, 0),
          "teatime": (16, 0)}


def parse_time(text: str, now: float | None = None, past: bool = False) -> float:
    """Epoch seconds of a Slurm time specification:
    ``now[{+|-}N[seconds|minutes|hours|days|weeks]]``, ``HH:MM[:SS][am|pm]``,
    ``YYYY-MM-DD[THH:MM[:SS]]``, ``MMDD[YY]``, ``MM.DD[.YY]`` and ``MM/DD[/YY]`` (these three
    with an optional ``-HH:MM[:SS]``), ``today``, ``tomorrow``, ``midnight``, ``noon``,
    ``elevenses``, ``fika``, ``teatime``.

    A time without a date is the next one for ``--begin``, which waits for it (tomorrow's
    if today's has passed); with ``past``, as sacct's ``-S``/``-E`` read it (Slurm's
    ``parse_time(text, past)``), it is today's, since a window that starts tomorrow holds no
    job yet.  A date without a year is this year's, or with ``past`` last year's when its
    month is still to come, as Slurm's."""
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
    try:
        return _clock_or_date(word, today, now, past)
    except ValueError:  # no such form, or a month 13, an hour 25
        raise ValueError(f"invalid time specification '{text}'") from None


def _clock_or_date(word: str, today, now: float, past: bool) -> float:
    """A named hour, a clock time or a dated form (ValueError if none)."""
    if word in _NAMED:
        hour, minute = _NAMED[word]
        return _day_of_clock(today, now, (hour, minute, 0), past)
    match = re.fullmatch(_CLOCK, word)
    if match:
        return _day_of_clock(today, now, _clock(match), past)
    for pattern in _DATED:
        match = re.fullmatch(pattern, word)
        if match:
            return _date(match, today, past)
    raise ValueError(word)


def _clock(match) -> tuple[int, int, int]:
    """Hour, minute and second of a `_CLOCK` match (midnight when it has none)."""
    if match["hour"] is None:
        return 0, 0, 0
    hour = int(match["hour"])
    if match["half"]:
        hour = hour % 12 + (12 if match["half"] == "pm" else 0)
    return hour, int(match["minute"]), int(match["second"] or 0)


def _day_of_clock(today, now, clock, past) -> float:
    """Today's ``clock``; for a future time (not ``past``), tomorrow's once today's is over."""
    moment = today.replace(hour=clock[0], minute=clock[1], second=clock[2]).timestamp()
    return moment if past or moment >= now else moment + 86400


def _date(match, today, past) -> float:
    """The moment a `_DATED` form names: its year (``YY`` is 20YY), else this year, or last
    year for a ``past`` date whose month is later than today's."""
    fields = match.groupdict()
    month, day = int(fields["month"]), int(fields["day"])
    if fields.get("year"):
        year = int(fields["year"])
    elif fields.get("yy"):
        year = 2000 + int(fields["yy"])
    else:
        year = today.year - 1 if past and month > today.month else today.year
    hour, minute, second = _clock(match)
    return today.replace(year=year, month=month, day=day, hour=hour, minute=minute,
                         second=second).timestamp()
