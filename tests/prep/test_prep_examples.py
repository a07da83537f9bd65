"""The example PrEp plugins in examples/prep, loaded by path as a site would load them."""

import logging
import os
import time

import pytest

from corral import prep
from corral.prep import CallType
from corral.prep.config import PrepSettings
from corral.prep.host import PrepHost
from corral.prep.loader import PrepError
from corral.prep.pending import PendingUnits

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "prep")


def make_host(plugin, parameters, deliver=None):
    host = PrepHost(PrepSettings(plugins=(os.path.join(EXAMPLES, plugin),),
                                 parameters=parameters),
                    controller=deliver is not None, node=True, deliver=deliver)
    host.init()
    return host


JOB_ENV = prep.JobEnv(job_id=3, uid=0, gid=0, user_name="root", work_dir="/",
                      node_name="node0", node_list="node0")


# --- health_check.py -----------------------------------------------------------------------


def test_a_healthy_node_passes_both_checks(tmp_path):
    host = make_host("health_check.py", f"health.scratch={tmp_path},health.min-free-mb=1,"
                                        f"health.require={tmp_path}:/")
    assert host.prolog(JOB_ENV, None) == prep.SUCCESS
    assert host.epilog(JOB_ENV, None) == prep.SUCCESS
    assert [host.required(t) for t in CallType] == [False, True, True, False, False]
    host.fini()


def test_a_missing_path_or_too_little_space_fails_the_prolog_with_the_reason(tmp_path, caplog):
    host = make_host("health_check.py", f"health.scratch={tmp_path},"
                                        f"health.min-free-mb={2**50},"
                                        f"health.require={tmp_path}/gpfs")
    with caplog.at_level(logging.ERROR, "corral.prep.health"):
        assert host.prolog(JOB_ENV, None) == prep.ERROR
    assert f"health prolog for job 3 on node0 failed: scratch directory {tmp_path} has" in \
        caplog.text
    assert f"{tmp_path}/gpfs is missing" in caplog.text
    host.fini()


def test_a_bad_health_parameter_stops_the_daemon():
    with pytest.raises(PrepError) as caught:
        make_host("health_check.py", "health.min-free-mb=lots")
    assert str(caught.value).endswith(
        "init failed: health.min-free-mb must be a whole number of MB, got 'lots'")


# --- account_gate.py -----------------------------------------------------------------------


@pytest.fixture
def gate(tmp_path, deliveries):
    allow = tmp_path / "accounts"
    allow.write_text("physics\nchemistry\n")
    ledger = tmp_path / "ledger"
    host = make_host("account_gate.py", f"account-gate.allow={allow},"
                                        f"account-gate.ledger={ledger},account-gate.delay=0.2",
                     deliver=deliveries)
    yield host, ledger
    host.fini()


def record(job_id, account, exit_code=0):
    return prep.JobRecord(job_id=job_id, name="j", uid=0, gid=0, user_name="root",
                          group_name="root", work_dir="/", account=account,
                          exit_code=exit_code)


def test_the_gate_answers_later_and_leaves_the_event_loop_at_once(gate, deliveries):
    host, _ledger = gate
    assert host.required(CallType.PROLOG_SLURMCTLD)
    started = time.monotonic()
    assert host.prolog_slurmctld(record(1, "physics")) == (prep.SUCCESS, 1)
    assert host.prolog_slurmctld(record(2, "astrology")) == (prep.SUCCESS, 1)
    assert time.monotonic() - started < 0.1
    reports = sorted(deliveries.wait(2), key=lambda report: report[2])
    assert reports == [(CallType.PROLOG_SLURMCTLD, 0, 1, False),
                       (CallType.PROLOG_SLURMCTLD, 1 << 8, 2, False)]


def test_the_controller_reads_the_gates_answers_as_slurm_does(gate, deliveries):
    host, _ledger = gate
    pending = PendingUnits(CallType.PROLOG_SLURMCTLD)
    for job_id, account in ((1, "physics"), (2, "astrology")):
        assert pending.start(job_id, host.prolog_slurmctld(record(job_id, account)).pending)
    outcomes = {report[2]: pending.report(*report[1:]) for report in deliveries.wait(2)}
    assert outcomes == {1: False, 2: True}  # job 2 failed: it will be requeued


def test_the_gate_records_finished_jobs_in_its_ledger(gate, deliveries):
    host, ledger = gate
    assert host.epilog_slurmctld(record(5, "physics", exit_code=768)) == (prep.SUCCESS, 1)
    assert deliveries.wait(1) == [(CallType.EPILOG_SLURMCTLD, 0, 5, False)]
    assert ledger.read_text() == "5 root physics 768\n"


def test_on_a_node_agent_the_gate_does_nothing(tmp_path):
    host = make_host("account_gate.py", f"account-gate.allow={tmp_path}/accounts")
    assert not any(host.required(t) for t in CallType)
    assert host.prolog_slurmctld(record(1, "physics")) == (prep.SUCCESS, 0)
    assert host.prolog(JOB_ENV, None) == prep.SUCCESS
    host.fini()
