"""The one decoding of wait statuses: from real children's statuses, not hand-made bits."""

import os
import signal
import subprocess

import pytest

from corral.waitstatus import exit_and_signal, returncode


def _status_of(command: list[str]) -> int:
    process = subprocess.Popen(command)
    _pid, status = os.waitpid(process.pid, 0)
    process.returncode = 0  # reaped here: Popen must not wait for it again
    return status


@pytest.mark.parametrize("code", [0, 1, 3, 255])
def test_an_exit_code_is_the_exit_part(code):
    status = _status_of(["sh", "-c", f"exit {code}"])
    assert exit_and_signal(status) == (code, 0)
    assert returncode(status) == code


def test_a_signal_is_the_signal_part():
    status = _status_of(["sh", "-c", "kill -TERM $$"])
    assert exit_and_signal(status) == (0, signal.SIGTERM)
    assert returncode(status) == 128 + signal.SIGTERM


def test_no_status_has_no_returncode():
    assert returncode(None) is None
