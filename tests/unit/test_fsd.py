"""Flux Standard Duration (RFC 23): parse and format."""

import math
import random

import pytest

from corral import fsd


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30.0),
        ("30s", 30.0),
        ("1.5m", 90.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("10ms", 0.01),
        ("0", 0.0),
        ("0.5", 0.5),
        (".5m", 30.0),
        ("1e2s", 100.0),
        ("infinity", math.inf),
        ("inf", math.inf),
        ("INFINITY", math.inf),
        (45, 45.0),
        (2.5, 2.5),
        (math.inf, math.inf),
    ],
)
def test_parse_reads_numbers_with_rfc_23_units(value, seconds):
    assert fsd.parse(value) == seconds


def test_parse_returns_floats():
    assert type(fsd.parse(3)) is float
    assert type(fsd.parse("3")) is float


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "invalid duration '-1': must not be negative"),
        ("-2m", "invalid duration '-2m': must not be negative"),
        (-0.5, "invalid duration '-0.5': must not be negative"),
        ("nan", "invalid duration 'nan': expected a number with an optional unit "
                "(ms, s, m, h or d)"),
        (math.nan, "invalid duration 'nan': not a number"),
        ("5x", "invalid duration '5x': unknown unit 'x' (expected ms, s, m, h or d)"),
        ("5M", "invalid duration '5M': unknown unit 'M' (expected ms, s, m, h or d)"),
        ("5 m", "invalid duration '5 m': expected a number with an optional unit "
                "(ms, s, m, h or d)"),
        ("", "invalid duration '': expected a number with an optional unit (ms, s, m, h or d)"),
        ("m", "invalid duration 'm': expected a number with an optional unit (ms, s, m, h or d)"),
        ("infinitys", "invalid duration 'infinitys': infinity takes no unit"),
        (True, "invalid duration True: expected a string or a number"),
        (None, "invalid duration None: expected a string or a number"),
    ],
)
def test_parse_rejects_what_rfc_23_does_not_allow(value, message):
    with pytest.raises(ValueError) as caught:
        fsd.parse(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.05, "50ms"),
        (0.1, "0.1s"),
        (1, "1s"),
        (59.5, "59.5s"),
        (60, "1m"),
        (90, "1.5m"),
        (3600, "1h"),
        (5400, "1.5h"),
        (86400, "1d"),
        (86400 * 365, "365d"),
        (1e-5, "0.01ms"),
        (math.inf, "infinity"),
    ],
)
def test_format_prints_durations_as_flux_does(seconds, text):
    assert fsd.format(seconds) == text


def test_format_rounds_to_the_requested_precision():
    assert fsd.format(5000, precision=2) == "1.4h"
    assert fsd.format(1234.5678) == "20.5761m"


@pytest.mark.parametrize("seconds", [-1, math.nan, -math.inf])
def test_format_rejects_negative_and_nan_durations(seconds):
    with pytest.raises(ValueError) as caught:
        fsd.format(seconds)
    assert str(caught.value) == f"invalid duration '{seconds}': must be a non-negative number"


def test_parse_of_format_gives_back_the_duration_to_six_digits():
    generator = random.Random(23)
    for _ in range(1000):
        seconds = generator.choice([0.0, 10 ** generator.uniform(-4, 7)])
        assert fsd.parse(fsd.format(seconds)) == pytest.approx(seconds, rel=1e-5)
