"""A task's environment as the C array a spawn takes, with entries encoded once."""

import ctypes
import errno

import pytest

from corral.exec import launch


def _strings(array) -> list:
    values = []
    for index in range(len(array)):
        values.append(array[index])
    return values


def test_entries_and_their_order_whether_encoded_before_or_not():
    env = {"PATH": "/usr/bin", "HOME": "/home/é", "EMPTY": ""}
    first = _strings(launch._environment(env))
    again = _strings(launch._environment(env))
    expected = [b"PATH=/usr/bin", "HOME=/home/é".encode(), b"EMPTY=", None]
    assert first == again == expected
    changed = _strings(launch._environment({"PATH": "/bin", "HOME": "/home/é"}))
    assert changed == [b"PATH=/bin", "HOME=/home/é".encode(), None]


def test_undecodable_bytes_come_back_as_they_were():
    value = b"caf\xe9".decode("utf-8", "surrogateescape")
    assert _strings(launch._environment({"V": value})) == [b"V=caf\xe9", None]


@pytest.mark.parametrize("name,value", [("A=B", "x"), ("A\0", "x"), ("A", "x\0y")])
def test_a_variable_no_environment_can_hold_is_refused_every_time(name, value):
    for _ in range(2):
        with pytest.raises(OSError) as caught:
            launch._environment({"OK": "1", name: value})
        assert caught.value.errno == errno.EINVAL


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(launch, "_ENTRIES", {})
    monkeypatch.setattr(launch, "_ENTRIES_KEPT", 3)
    for index in range(10):
        assert _strings(launch._environment({"JOB": str(index)})) == [f"JOB={index}".encode(),
                                                                     None]
        assert len(launch._ENTRIES) <= 3


def test_the_array_is_one_a_spawn_takes():
    array = launch._environment({"A": "1"})
    assert isinstance(array, ctypes.Array) and array._type_ is ctypes.c_char_p
