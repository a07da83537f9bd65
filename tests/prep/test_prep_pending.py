"""Reading callback statuses and counting the asynchronous units a job still owes."""

import logging
import signal

import pytest

from corral import prep
from corral.prep import CallType
from corral.prep.pending import PendingUnits, is_failure


@pytest.mark.parametrize("rc, timed_out, failed", [
    (0, False, False),
    (0, True, False),
    (1 << 8, False, True),          # exit 1
    (3 << 8, True, True),           # exit 3, timed out or not
    (signal.SIGKILL, False, False),  # killed: the job was cancelled
    (signal.SIGKILL, True, True),    # killed at the timeout
    (signal.SIGTERM, False, False),
    (prep.ERROR, False, True),      # not a wait status: a Python plugin's failure
    (127, False, True),             # a script that could not be started
])
def test_failure_is_read_as_slurm_reads_it(rc, timed_out, failed):
    assert is_failure(rc, timed_out) is failed


def test_a_job_goes_on_when_its_last_unit_reports():
    pending = PendingUnits(CallType.PROLOG_SLURMCTLD)
    assert pending.start(5, 2) is True and 5 in pending
    assert pending.report(0, 5, False) is None
    assert pending.report(0, 5, False) is False
    assert 5 not in pending


def test_one_failed_unit_fails_the_whole_hook_whatever_the_order(caplog):
    pending = PendingUnits(CallType.PROLOG_SLURMCTLD)
    pending.start(5, 3)
    with caplog.at_level(logging.ERROR, "corral.prep"):
        assert pending.report(1 << 8, 5, False) is None
    assert "prolog_slurmctld JobId=5 prolog exit status 1:0" in caplog.text
    assert pending.report(0, 5, False) is None
    assert pending.report(signal.SIGKILL, 5, False) is True


def test_no_units_means_no_waiting():
    pending = PendingUnits(CallType.EPILOG_SLURMCTLD)
    assert pending.start(6, 0) is False and 6 not in pending


def test_a_report_for_a_job_that_owes_nothing_is_ignored(caplog):
    pending = PendingUnits(CallType.EPILOG_SLURMCTLD)
    with caplog.at_level(logging.WARNING, "corral.prep"):
        assert pending.report(0, 9, False) is None
    assert "epilog_slurmctld callback for job 9, which waits for none" in caplog.text
    pending.start(9, 1)
    pending.discard(9)
    assert pending.report(0, 9, False) is None


def test_an_epilog_timeout_is_logged(caplog):
    pending = PendingUnits(CallType.EPILOG_SLURMCTLD)
    pending.start(4, 1)
    with caplog.at_level(logging.ERROR, "corral.prep"):
        assert pending.report(signal.SIGKILL, 4, True) is True
    assert "epilog_slurmctld JobId=4 timed out" in caplog.text
