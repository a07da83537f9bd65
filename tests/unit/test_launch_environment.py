"""A task's environment as the C array a spawn takes, with entries encoded once."""

import ctypes
import errno
from types import MappingProxyType

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


def _until_null(array) -> list:
    values = []
    for index in range(len(array)):
        values.append(array[index])
        if values[-1] is None:
            return values
    raise AssertionError("no NULL ends the array")


def test_a_shared_environment_with_each_tasks_variables_after_its_own():
    env = MappingProxyType({"PATH": "/usr/bin", "HOME": "/home/é"})
    for rank in range(3):
        array = launch._environment(env, {"CORRAL_JOB_ID": "5", "CORRAL_TASK_RANK": str(rank)})
        assert _until_null(array) == [b"PATH=/usr/bin", "HOME=/home/é".encode(),
                                      b"CORRAL_JOB_ID=5", f"CORRAL_TASK_RANK={rank}".encode(),
                                      None]
    assert _until_null(launch._environment(env, {})) == [b"PATH=/usr/bin",
                                                          "HOME=/home/é".encode(), None]


def test_task_variables_that_are_in_the_environment_replace_them_in_place():
    env = MappingProxyType({"PATH": "/usr/bin", "CORRAL_TASK_RANK": "9", "HOME": "/root"})
    array = launch._environment(env, {"CORRAL_TASK_RANK": "0", "CORRAL_JOB_ID": "5"})
    assert _until_null(array) == [b"PATH=/usr/bin", b"CORRAL_TASK_RANK=0", b"HOME=/root",
                                  b"CORRAL_JOB_ID=5", None]


def test_more_task_variables_than_a_kept_array_has_room_for():
    env = MappingProxyType({"PATH": "/usr/bin"})
    task_vars = {f"V{index}": str(index) for index in range(launch._ROOM + 1)}
    assert _until_null(launch._environment(env, task_vars)) == \
        [b"PATH=/usr/bin", *(f"V{index}={index}".encode() for index in range(launch._ROOM + 1)),
         None]
    assert _until_null(launch._environment(env, {"A": "1"})) == [b"PATH=/usr/bin", b"A=1", None]


def test_a_dict_and_its_task_variables_are_merged_as_a_dict_would_be():
    env = {"PATH": "/usr/bin", "CORRAL_TASK_RANK": "9"}
    assert _strings(launch._environment(env, {"CORRAL_TASK_RANK": "1", "X": "y"})) == \
        [b"PATH=/usr/bin", b"CORRAL_TASK_RANK=1", b"X=y", None]
