"""Node and controller prologs: Slurm's checklist T1-T7 (reference §6) and the failure table
of its appendix A.3, driver rules 3 and 4.

What the controller does with a hook's result (drain, requeue, hold, kill) is tested in the
plugin test kit (`prep_kit`), where the scripts run for real and the jobs' runs are simulated
on a virtual clock; what needs tasks or node agents (tasks seeing the prolog done, a prolog
racing the job's end, scripts on a live node) on instances of three nodes
(``--test-size=3``) sharing this machine's cores, and each rule the kit tests once end to
end.  Prolog scripts decide what to do from ``SLURMD_NODENAME`` and leave files behind for
the test to read.
"""

import os

import pytest
from prep_helpers import (
    contexts,
    dmesg,
    drained,
    events,
    names,
    read_env,
    submit,
    until,
    wait,
)

OWNER = os.geteuid()


def test_prologs_run_on_every_node_before_any_task_and_the_job_runs(prep_instance, make_script,
                                                                    tmp_path):
    """T1, T5, ``Alloc``/``DeferBatch`` as corral's default: node2's prolog is the slow one,
    and every task sees that it finished."""
    prolog = make_script("prolog", f"""
        [ "$SLURMD_NODENAME" = node2 ] && sleep 0.3
        touch {tmp_path}/prolog.$SLURMD_NODENAME
    """)
    instance = prep_instance(f'prolog = "{prolog}"')
    with instance.client() as client:
        job_id = submit(client, ["test", "-e", f"{tmp_path}/prolog.node2"], nnodes=3)
        wait(client, job_id)
        assert names(client, job_id) == [
            "submit", "validate", "depend", "priority", "alloc", "prolog-start",
            "prolog-finish", "start", "finish", "release", "free", "clean"]
        assert contexts(client, job_id, "prolog-start") == [{"description": "prep"}]
        assert contexts(client, job_id, "prolog-finish") == [{"description": "prep",
                                                              "status": 0}]
        assert contexts(client, job_id, "finish") == [{"status": 0}]
        assert client.job(job_id)["result_name"] == "COMPLETED"
        assert drained(client) == {}
    assert sorted(name for name in os.listdir(tmp_path) if name.startswith("prolog.")) == [
        "prolog.node0", "prolog.node1", "prolog.node2"]


def test_a_failing_node_prolog_drains_only_that_node_and_requeues_the_job_held(
        prep_kit, make_script, tmp_path):
    """T3, T4 (T6 has no race to allow for): node1's prolog exits 1; the tasks never start,
    both epilogs still run everywhere (seeing restart count 1, exit code 0), node1 alone is
    drained with ``Prolog error``, and the job is pending, held, ``launch failed requeued
    held``.  In the plugin test kit (the listing of such a job: `test_prolog_scripts_run_as_
    prep_script_runs_them`)."""
    prolog = make_script("prolog", '[ "$SLURMD_NODENAME" != node1 ]\n')
    epilog = make_script("epilog", f"env > {tmp_path}/epilog.$SLURMD_NODENAME\n")
    ctld_epilog = make_script("epilog_ctld", f"env > {tmp_path}/epilog_slurmctld\n")
    kit = prep_kit(f"""
        prolog = "{prolog}"
        epilog = "{epilog}"
        epilog-slurmctld = "{ctld_epilog}"
        requeue-delay = "0.2s"
    """)
    job_id = kit.submit(nnodes=3)
    requeue = kit.wait(job_id, "requeue")
    assert requeue["context"] == {"reason": "launch failed requeued held", "hold": True,
                                  "delay": 0.2, "launch_failures": 1}
    eventlog = names(kit, job_id)
    assert [name for name in eventlog if name != "release"] == [
        "submit", "validate", "depend", "priority", "alloc", "prolog-start", "exception",
        "epilog-start", "prolog-finish", "epilog-finish", "free", "requeue"]
    assert "start" not in eventlog and "finish" not in eventlog
    assert contexts(kit, job_id, "exception") == [{
        "type": "prolog", "severity": 0, "note": "Prolog failure on node node1",
        "userid": OWNER}]
    assert contexts(kit, job_id, "prolog-finish") == [{"description": "prep", "status": 256}]
    releases = contexts(kit, job_id, "release")
    assert sorted(r["ranks"] for r in releases) == ["0", "1", "2"]
    assert [r["final"] for r in releases] == [False, False, True]
    assert drained(kit) == {"node1": "Prolog error"}
    kit.advance(0.2)
    job = kit.job(job_id)
    assert (job["state_name"], job["reason"], job["urgency"], job["priority"],
            job["restarts"]) == ("SCHED", "launch failed requeued held", 0, 0, 1)
    for name in ("epilog.node0", "epilog.node1", "epilog.node2", "epilog_slurmctld"):
        env = read_env(tmp_path / name)
        assert (env["SLURM_JOB_RESTART_COUNT"], env["SLURM_JOB_EXIT_CODE"],
                env["SLURM_JOB_EXIT_CODE2"]) == ("1", "0", "0:0"), name


@pytest.mark.parametrize("flags", [[], ["NoHold"]], ids=["default", "NoHold"])
def test_a_failing_prolog_always_ends_in_a_held_requeue_never_in_a_run(prep_instance,
                                                                       make_script, flags):
    """No race between the failing prolog and the job's own end (ROCm/spur#243): node1's
    prolog fails late, the task elsewhere is ``true``; every time the job is requeued held,
    and never finishes. With ``NoHold`` node0's task may even have run."""
    prolog = make_script("prolog", 'if [ "$SLURMD_NODENAME" = node1 ]; then sleep 0.2; '
                                   'exit 1; fi\n')
    instance = prep_instance(f'prolog = "{prolog}"\nflags = {flags!r}\n'
                             'requeue-delay = "0.1s"', test_size=2)
    with instance.client() as client:
        for _attempt in range(3):
            job_id = submit(client, ["true"], nnodes=2)
            requeue = wait(client, job_id, "requeue")
            assert requeue["context"]["hold"] is True
            assert "finish" not in names(client, job_id)
            assert contexts(client, job_id, "exception")[0]["note"] == \
                "Prolog failure on node node1"
            assert drained(client) == {"node1": "Prolog error"}
            client.rpc("resource.undrain", {"targets": "node1"})
            client.cancel(job_id)
            wait(client, job_id)


def _retried_prolog_failures(make_script) -> str:
    """``[prep]`` with a prolog that always fails, retried without hold until the second
    launch failure."""
    prolog = make_script("prolog", "exit 3\n")
    return f"""
        prolog = "{prolog}"
        nohold-on-prolog-fail = true
        max-batch-requeue = 2
        requeue-delay = "0.3s"
    """


def test_nohold_on_prolog_fail_retries_and_max_batch_requeue_holds(prep_kit, make_script):
    """T7 and MaxBatchRequeue: not held after the first launch failure, eligible again after
    the requeue delay; the second failure reaches ``max-batch-requeue = 2``.  In the kit
    (on an instance: `test_the_prolog_failure_rules_on_a_live_instance`)."""
    kit = prep_kit(_retried_prolog_failures(make_script))
    job_id = kit.submit(nnodes=1)
    kit.advance(1)
    first, second = events(kit, job_id, "requeue")
    assert first["context"] == {"reason": "launch failed requeued", "hold": False,
                                "delay": 0.3, "launch_failures": 1}
    assert second["context"] == {"reason": "launch failure limit exceeded requeued held",
                                 "hold": True, "delay": 0.3, "launch_failures": 0}
    second_alloc = events(kit, job_id, "alloc")[1]
    assert second_alloc["timestamp"] - first["timestamp"] == pytest.approx(0.3)
    assert drained(kit) == {"node0": "Prolog error", "node1": "Prolog error"}
    job = kit.job(job_id)
    assert (job["state_name"], job["reason"], job["urgency"], job["restarts"]) == (
        "SCHED", "launch failure limit exceeded requeued held", 0, 2)


@pytest.mark.parametrize("flags, result", [
    ([], "killed"), (["ForceRequeueOnFail"], "requeued")])
def test_a_job_that_may_not_be_requeued_is_killed_unless_forced(prep_kit, make_script, flags,
                                                                result):
    """``requeue = false``: the prolog failure kills the job (``Prolog failure on node X``);
    ``ForceRequeueOnFail`` requeues it anyway.  In the kit (on an instance: killed in
    `test_the_prolog_failure_rules_on_a_live_instance`, forced in test_prep_timeouts.py)."""
    prolog = make_script("prolog", "exit 1\n")
    kit = prep_kit(f'prolog = "{prolog}"\nflags = {flags!r}', nodes=1)
    job_id = kit.submit(setattr=["system.requeue=false"])
    if result == "requeued":
        assert kit.wait(job_id, "requeue")["context"]["reason"] == \
            "launch failed requeued held"
        return
    kit.wait(job_id)
    assert "requeue" not in names(kit, job_id)
    assert contexts(kit, job_id, "exception") == [{
        "type": "prolog", "severity": 0, "note": "Prolog failure on node node0",
        "userid": OWNER}]
    assert kit.job(job_id)["result_name"] == "FAILED"
    assert drained(kit) == {"node0": "Prolog error"}


def test_a_failing_controller_prolog_requeues_without_hold_drain_or_node_hooks(
        prep_kit, make_script, tmp_path):
    """PrologSlurmctld exits 1 (A.3): the node prolog never runs, nothing is drained, the
    controller epilog still runs, the job is requeued not held and retried for as long as
    the prolog fails; a job that may not be requeued is killed.  In the kit (a controller
    prolog failing on an instance: test_prep_timeouts.py)."""
    ctld_prolog = make_script("ctld_prolog", f"echo x >> {tmp_path}/ctld_prolog.runs\nexit 1\n")
    ctld_epilog = make_script("ctld_epilog", f"env > {tmp_path}/ctld_epilog.env\n")
    prolog = make_script("prolog", f"touch {tmp_path}/node_prolog.ran\n")
    kit = prep_kit(f"""
        prolog = "{prolog}"
        prolog-slurmctld = "{ctld_prolog}"
        epilog-slurmctld = "{ctld_epilog}"
        requeue-delay = "0.2s"
    """)
    job_id = kit.submit()
    kit.advance(0.3)
    assert contexts(kit, job_id, "requeue")[:2] == [
        {"reason": "PrologSlurmctld failed", "hold": False, "delay": 0.2}] * 2
    eventlog = names(kit, job_id)
    first_run = eventlog[:eventlog.index("requeue") + 1]
    assert first_run == [
        "submit", "validate", "depend", "priority", "alloc", "prolog-start", "exception",
        "epilog-start", "prolog-finish", "epilog-finish", "free", "requeue"]
    assert contexts(kit, job_id, "exception")[0] == {
        "type": "prolog", "severity": 0, "note": "PrologSlurmctld failed, job requeued",
        "userid": OWNER}
    assert drained(kit) == {}
    assert kit.job(job_id)["urgency"] == 16
    kit.cancel(job_id)
    killed = kit.submit(setattr=["system.requeue=false"])
    kit.wait(killed)
    assert contexts(kit, killed, "exception")[0]["note"] == \
        "PrologSlurmctld failed, job killed"
    assert kit.job(killed)["result_name"] == "FAILED"
    assert "requeue" not in names(kit, killed)
    assert not (tmp_path / "node_prolog.ran").exists()
    assert read_env(tmp_path / "ctld_epilog.env")["SLURM_SCRIPT_CONTEXT"] == "epilog_slurmctld"


def test_the_prolog_failure_rules_on_a_live_instance(prep_instance, make_script):
    """The rules the kit tests above, end to end once: a launch failure not held
    (``nohold-on-prolog-fail``) until ``max-batch-requeue``, and a job that may not be
    requeued killed."""
    instance = prep_instance(_retried_prolog_failures(make_script), test_size=2)
    with instance.client() as client:
        job_id = submit(client, ["true"])
        until(lambda: len(events(client, job_id, "requeue")) == 2)
        assert [context["reason"] for context in contexts(client, job_id, "requeue")] == [
            "launch failed requeued", "launch failure limit exceeded requeued held"]
        assert drained(client) == {"node0": "Prolog error", "node1": "Prolog error"}
        client.rpc("resource.undrain", {"targets": "node0"})
        killed = submit(client, ["true"], setattr=["system.requeue=false"])
        wait(client, killed)
        assert contexts(client, killed, "exception")[0]["note"] == \
            "Prolog failure on node node0"
        assert client.job(killed)["result_name"] == "FAILED"
        client.cancel(job_id)


def test_prolog_scripts_run_as_prep_script_runs_them(prep_instance, make_script, tmp_path):
    """prep/script on a live node: each pattern's matches in reverse sorted order, patterns
    in configuration order, one after the other, stopping at the first failure (whose status
    and captured output reach the log); ``argv`` is the path alone, stdin is ``/dev/null``,
    no ``PATH`` in the environment (the shell falls back to its own); a pattern that
    matches nothing fails the prolog without running anything."""
    order = tmp_path / "order"
    for name in ("10-a", "20-b", "30-c"):
        make_script(f"prolog.d/{name}", f"echo {name} >> {order}\n")
    last = make_script("last", f"""
        echo "argv=$0 $# stdin=$(cat) exported PATH=$(env | grep -c ^PATH=)" >> {order}
        echo "failing on purpose"
        exit 4
    """)
    never = make_script("never", f"echo never >> {order}\n")
    scripts = tmp_path / "scripts"
    instance = prep_instance(
        f'prolog = ["{scripts}/prolog.d/*", "{last}", "{never}"]\nrequeue-delay = "0.1s"',
        test_size=1)
    with instance.client() as client:
        job_id = submit(client, ["true"])
        wait(client, job_id, "requeue")
        assert contexts(client, job_id, "prolog-finish") == [{"description": "prep",
                                                              "status": 4 << 8}]
        log = dmesg(client)
        until(lambda: client.job(job_id)["state_name"] == "SCHED")
    listing = instance.corral("jobs", "-o", "{id} {status_abbrev} {reason} {contextual_info}")
    assert listing.stdout.splitlines() == [
        "JOBID ST REASON INFO",
        f"{job_id} S JobHeldAdmin (JobHeldAdmin: launch failed requeued held)"]
    nodes = instance.corral("resource", "list").stdout.splitlines()
    assert [line.split()[1:3] for line in nodes[1:]] == [["node0", "drained"]]
    assert "Prolog error" in nodes[1]
    assert order.read_text().splitlines() == [
        "30-c", "20-b", "10-a", f"argv={last} 0 stdin= exported PATH=0"]
    assert f"JobId={job_id} prolog failed: rc:4 output:failing on purpose" in log

    empty = prep_instance(f'prolog = ["{scripts}/prolog.d/*", "{tmp_path}/none.d/*"]',
                          test_size=1, name="empty.toml")
    order.unlink()
    with empty.client() as client:
        job_id = submit(client, ["true"])
        wait(client, job_id, "requeue")
        assert drained(client) == {"node0": "Prolog error"}
        assert f"JobId={job_id} prolog: Unable to create list of paths [{tmp_path}/none.d/*]" \
            in dmesg(client)
    assert not order.exists()
