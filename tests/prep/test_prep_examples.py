"""The example PrEp plugins in examples/prep, loaded by path as a site would load them."""

import logging
import os
import pwd
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


# --- both, loaded by a running controller as a site would -----------------------------------


def test_the_health_check_drains_the_unfit_node_and_requeues_the_job(corral_kit, tmp_path,
                                                                    caplog):
    """The scratch directory is missing: the check fails on the node the job landed on
    (node0), which alone is drained; the job is requeued held and, once the directory is
    back and the job released, runs on another node.  In the plugin test kit: the hooks run
    as in an instance, the job's run is simulated."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    plugin = os.path.abspath(os.path.join(EXAMPLES, "health_check.py"))
    kit = corral_kit(nodes=3, cores_per_node=1, config=f"""
[prep]
plugins = ["{plugin}"]
parameters = "health.scratch={scratch}/node1,health.require={tmp_path}"
requeue-delay = "0.1s"
""")

    def drained():
        return {node["name"]: node["reason"] for node in kit.rpc("resource.list")["nodes"]
                if node["drained"]}

    with caplog.at_level(logging.ERROR, "corral.prep.health"):
        job_id = kit.submit(nnodes=1)
        requeue = kit.wait(job_id, "requeue")
    assert requeue["context"]["reason"] == "launch failed requeued held"
    assert drained() == {"node0": "Prolog error"}
    assert f"health prolog for job {job_id} on node0 failed: scratch directory " \
           f"{scratch}/node1 is missing" in caplog.text
    (scratch / "node1").mkdir()
    kit.set_urgency(job_id, 16)
    kit.wait(job_id)
    assert kit.job(job_id)["result_name"] == "COMPLETED"
    assert kit.names(job_id).count("alloc") == 2
    assert drained() == {"node0": "Prolog error"}


def test_the_account_gate_in_the_kit_waits_for_its_service_at_one_virtual_moment(
        corral_kit, tmp_path):
    """As the gate's author would test it: the pretend service's 0.3 s are real, spent in
    the plugin's threads while the virtual clock stands still; the allowed job runs its
    simulated hour, the refused one is requeued for a minute, and the ledger has both."""
    allow = tmp_path / "accounts"
    allow.write_text("physics\n")
    ledger = tmp_path / "ledger"
    plugin = os.path.abspath(os.path.join(EXAMPLES, "account_gate.py"))
    kit = corral_kit(config=f"""
[prep]
plugins = ["{plugin}"]
parameters = "account-gate.allow={allow},account-gate.ledger={ledger},account-gate.delay=0.3"
requeue-delay = "60s"
""")
    allowed = kit.submit(run=3600, setattr=["system.account=physics"])
    refused = kit.submit(setattr=["system.account=astrology"], urgency=1)
    requeue = kit.wait(refused, "requeue")
    assert requeue["context"] == {"reason": "PrologSlurmctld failed", "hold": False,
                                  "delay": 60.0}
    assert requeue["timestamp"] == kit.events(refused, "alloc")[0]["timestamp"]
    kit.cancel(refused)
    kit.wait(allowed)
    start, finish = (kit.events(allowed, name)[0]["timestamp"] for name in ("start", "finish"))
    assert (start, finish - start) == (kit.time() - 3600, 3600)
    assert kit.job(allowed)["result_name"] == "COMPLETED"
    user = pwd.getpwuid(os.geteuid()).pw_name
    assert sorted(ledger.read_text().splitlines()) == sorted([
        f"{allowed} {user} physics 0", f"{refused} {user} astrology 0"])


def test_the_account_gate_lets_allowed_accounts_run_and_requeues_the_others(make_instance,
                                                                           tmp_path):
    """The slow check happens in the plugin's threads: the job waits between prolog-start
    and prolog-finish, a refused account is requeued (PrologSlurmctld failed), and every job
    that ends is in the ledger once its controller epilog reported."""
    from prep_helpers import contexts, events, submit, wait

    allow = tmp_path / "accounts"
    allow.write_text("physics\n")
    ledger = tmp_path / "ledger"
    plugin = os.path.abspath(os.path.join(EXAMPLES, "account_gate.py"))
    config = tmp_path / "corral.toml"
    config.write_text(f"""
[prep]
plugins = ["prep/script", "{plugin}"]
parameters = "account-gate.allow={allow},account-gate.ledger={ledger},account-gate.delay=0.3"
requeue-delay = "60s"
""")
    instance = make_instance(test_size=1, config=config)
    with instance.client() as client:
        allowed = submit(client, ["true"], setattr=["system.account=physics"])
        refused = submit(client, ["true"], setattr=["system.account=astrology"])
        wait(client, allowed)
        start, finish = (events(client, allowed, name)[0]["timestamp"]
                         for name in ("prolog-start", "prolog-finish"))
        assert finish - start >= 0.3
        assert client.job(allowed)["result_name"] == "COMPLETED"
        wait(client, refused, "requeue")
        assert contexts(client, refused, "requeue") == [
            {"reason": "PrologSlurmctld failed", "hold": False, "delay": 60.0}]
    user = pwd.getpwuid(os.geteuid()).pw_name
    assert sorted(ledger.read_text().splitlines()) == sorted([
        f"{allowed} {user} physics 0", f"{refused} {user} astrology 0"])
