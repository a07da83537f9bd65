"""Slurm's time formats (corral.slurm.times)."""

import datetime

import pytest

from corral.slurm import times


@pytest.mark.parametrize("text, seconds", [
    ("5", 300), ("5:30", 330), ("1:02:03", 3723), ("2-3", 2 * 86400 + 3 * 3600),
    ("2-3:04", 2 * 86400 + 3 * 3600 + 240), ("2-3:04:05", 2 * 86400 + 3 * 3600 + 245),
    ("UNLIMITED", 0), ("infinite", 0), ("0", 0), ("0:10:0", 600),
])
def test_every_slurm_time_limit_form(text, seconds):
    assert times.parse_limit(text) == seconds


def test_a_bad_time_limit_says_which_forms_exist():
    with pytest.raises(ValueError, match="D-HH:MM:SS"):
        times.parse_limit("1h")


def test_a_time_limit_longer_than_slurm_can_hold_is_refused():
    assert times.parse_limit("4294967293") == times.LONGEST_LIMIT
    for text in ("4294967294", "99999999999", "9" * 30):
        with pytest.raises(ValueError, match="longer than Slurm's longest, 4294967293 minutes"):
            times.parse_limit(text)


def test_squeue_and_sacct_write_durations_differently():
    assert times.squeue_duration(5) == "0:05"
    assert times.squeue_duration(3723) == "1:02:03"
    assert times.squeue_duration(2 * 86400 + 5) == "2-00:00:05"
    assert times.sacct_duration(5) == "00:00:05"
    assert times.sacct_duration(86400) == "1-00:00:00"
    assert times.limit_text(0) == "UNLIMITED"


def test_begin_time_forms():
    now = datetime.datetime(2026, 3, 4, 10, 0, 0).timestamp()
    assert times.parse_time("now+60", now) == now + 60
    assert times.parse_time("now+2hours", now) == now + 7200
    assert times.parse_time("now-1days", now) == now - 86400
    assert times.parse_time("11:30", now) == now + 5400
    assert times.parse_time("09:00", now) == now + 23 * 3600  # past today: tomorrow
    assert times.parse_time("2026-03-05T12:00:00", now) == now + 26 * 3600
    assert times.parse_time("tomorrow", now) == now + 14 * 3600
    with pytest.raises(ValueError):
        times.parse_time("soon", now)


NOW = datetime.datetime(2026, 3, 4, 10, 0, 0)  # a Wednesday morning


def test_sacct_reads_a_clock_time_or_named_hour_as_todays_even_when_later():
    now = NOW.timestamp()
    assert times.parse_time("09:00", now, past=True) == now - 3600
    assert times.parse_time("11:30", now, past=True) == now + 5400
    assert times.parse_time("midnight", now, past=True) == now - 10 * 3600
    assert times.parse_time("teatime", now, past=True) == now + 6 * 3600
    # --begin waits for the next one: tomorrow's once today's has gone by
    assert times.parse_time("midnight", now) == now + 14 * 3600


@pytest.mark.parametrize("text, moment", [
    ("1206", (2025, 12, 6)), ("120626", (2026, 12, 6)), ("0302", (2026, 3, 2)),
    ("12.06", (2025, 12, 6)), ("12.06.26", (2026, 12, 6)), ("3.4", (2026, 3, 4)),
    ("12/06", (2025, 12, 6)), ("12/06/26", (2026, 12, 6)),
    ("12/06-20:00", (2025, 12, 6, 20)), ("12/06/26-20:00:30", (2026, 12, 6, 20, 0, 30)),
    ("1206-20:00", (2025, 12, 6, 20)), ("12.06.25-8:15pm", (2025, 12, 6, 20, 15)),
    ("2026-12-06", (2026, 12, 6)), ("2026-12-06T20:00", (2026, 12, 6, 20)),
    ("2026-12-06T20:00:30", (2026, 12, 6, 20, 0, 30)),
])
def test_every_slurm_date_form_as_sacct_reads_it(text, moment):
    """Without a year, a month still to come this year is last year's (Slurm's ``past``)."""
    expected = datetime.datetime(*moment).timestamp()
    assert times.parse_time(text, NOW.timestamp(), past=True) == expected


def test_a_begin_date_without_a_year_is_this_years():
    assert times.parse_time("1206", NOW.timestamp()) == datetime.datetime(2026, 12, 6).timestamp()
    assert times.parse_time("12/06-20:00", NOW.timestamp()) == \
        datetime.datetime(2026, 12, 6, 20).timestamp()


@pytest.mark.parametrize("text", [
    "2026-12-06T20",  # Slurm's parser reads the lone hour as a month, 20: refused there too
    "1306", "13/01", "25:00", "120", "yesterday",
])
def test_what_slurm_refuses_is_an_invalid_time_specification(text):
    with pytest.raises(ValueError, match=f"invalid time specification '{text}'"):
        times.parse_time(text, NOW.timestamp(), past=True)
