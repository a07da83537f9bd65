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
