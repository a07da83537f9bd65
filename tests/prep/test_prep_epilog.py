"""Node and controller epilogs: Slurm's checklist T11, the A.2 timeline (the node's resources
come back when its epilog ends, the job when both epilogs end) and the failure table A.3,
driver rules 5, 6 and 8.  What an epilog's failure does runs in the plugin test kit
(`prep_kit`, the scripts run for real); the timeline, the tasks and their exit codes on
running instances."""

import logging
import os
import time

from prep_helpers import (
    contexts,
    drained,
    events,
    names,
    read_env,
    submit,
    until,
    wait,
)

OWNER = os.geteuid()


def test_a_failing_node_epilog_drains_that_node_and_the_job_still_completes(
        prep_kit, make_script, caplog):
    """Epilog exits 1 on node1 (A.3): ``Epilog error`` on node1 only, the job COMPLETED, and
    a non-fatal ``epilog`` exception records it.  In the kit (an epilog failing on an
    instance: test_prep_timeouts.py)."""
    epilog = make_script("epilog", '[ "$SLURMD_NODENAME" != node1 ]\n')
    kit = prep_kit(f'epilog = "{epilog}"')
    with caplog.at_level(logging.ERROR, "corral.prep"):
        job_id = kit.submit(nnodes=3)
        kit.wait(job_id)
    eventlog = names(kit, job_id)
    assert [name for name in eventlog if name not in ("release", "exception")] == [
        "submit", "validate", "depend", "priority", "alloc", "start", "finish",
        "epilog-start", "epilog-finish", "free", "clean"]
    assert contexts(kit, job_id, "exception") == [{
        "type": "epilog", "severity": 2, "note": "Epilog failure on node node1",
        "userid": OWNER}]
    assert contexts(kit, job_id, "epilog-finish") == [{"description": "prep", "status": 256}]
    assert kit.job(job_id)["result_name"] == "COMPLETED"
    assert drained(kit) == {"node1": "Epilog error"}
    assert f"JobId={job_id} epilog error on node1, draining the node" in caplog.text


def test_a_failing_controller_epilog_is_only_logged(prep_kit, make_script, caplog):
    """In the kit (a controller epilog failing on an instance, in Python:
    test_prep_plugins.py)."""
    ctld_epilog = make_script("ctld_epilog", "exit 1\n")
    kit = prep_kit(f'epilog-slurmctld = "{ctld_epilog}"')
    with caplog.at_level(logging.ERROR, "corral.prep"):
        job_id = kit.submit()
        kit.wait(job_id)
    assert names(kit, job_id) == [
        "submit", "validate", "depend", "priority", "alloc", "start", "finish",
        "epilog-start", "release", "epilog-finish", "free", "clean"]
    assert contexts(kit, job_id, "epilog-finish") == [{"description": "prep", "status": 0}]
    assert kit.job(job_id)["result_name"] == "COMPLETED"
    assert drained(kit) == {}
    assert f"JobId={job_id} EpilogSlurmctld exit status 1:0" in caplog.text


def test_a_node_goes_back_when_its_epilog_ends_and_the_job_when_all_have(
        prep_instance, make_script, tmp_path):
    """A.2 and driver rule 8: node1's epilog takes a second; node0 is released (and taken by
    the next job) while the first job is still in CLEANUP, which ends only when both node
    epilogs and the slow controller epilog are done."""
    epilog = make_script("epilog", '[ "$SLURMD_NODENAME" = node1 ] && sleep 1\nexit 0\n')
    ctld_epilog = make_script("ctld_epilog", "sleep 1.3\n")
    instance = prep_instance(f'epilog = "{epilog}"\nepilog-slurmctld = "{ctld_epilog}"',
                             test_size=2)
    with instance.client() as client:
        first = submit(client, ["true"], nnodes=2)
        wait(client, first, "start")
        second = submit(client, ["true"], nnodes=1)
        wait(client, second)
        clean = wait(client, first)
        assert events(client, second, "alloc")[0]["timestamp"] < clean["timestamp"]
        assert [event["context"] for event in events(client, first, "release")] == [
            {"ranks": "0", "final": False}, {"ranks": "1", "final": True}]
        assert names(client, first)[-5:] == ["release", "release", "epilog-finish", "free",
                                             "clean"]
        epilog_start = events(client, first, "epilog-start")[0]["timestamp"]
        assert clean["timestamp"] - epilog_start >= 1.3


def test_the_epilog_runs_after_the_tasks_are_gone_and_after_the_prolog(
        prep_instance, make_script, tmp_path):
    """T11 and the node's order of things: a cancelled job's epilog starts once its task
    (which ignores nothing) is dead, and a job cancelled during its node prolog runs its
    epilog only after that prolog ended, never killing it (a cancel is not a failure)."""
    prolog = make_script("prolog", f"""
        if [ -e {tmp_path}/slow ]; then sleep 1; fi
        date +%s.%N > {tmp_path}/prolog_end.$SLURM_JOB_ID
    """)
    epilog = make_script("epilog", f"""
        date +%s.%N > {tmp_path}/epilog_start.$SLURM_JOB_ID
        if [ -e {tmp_path}/task.pid ] && kill -0 $(cat {tmp_path}/task.pid) 2>/dev/null; then
            echo alive > {tmp_path}/task_when_epilog.$SLURM_JOB_ID
        else
            echo gone > {tmp_path}/task_when_epilog.$SLURM_JOB_ID
        fi
    """)
    instance = prep_instance(f'prolog = "{prolog}"\nepilog = "{epilog}"')
    with instance.client() as client:
        running = submit(client, ["sh", "-c", f"echo $$ > {tmp_path}/task.pid; exec sleep 60"])
        wait(client, running, "start")
        until(lambda: (tmp_path / "task.pid").exists())
        client.cancel(running)
        wait(client, running)
        assert (tmp_path / f"task_when_epilog.{running}").read_text() == "gone\n"
        assert client.job(running)["result_name"] == "CANCELED"

        (tmp_path / "slow").touch()
        (tmp_path / "task.pid").unlink()
        in_prolog = submit(client, ["true"])
        wait(client, in_prolog, "prolog-start")
        time.sleep(0.2)
        client.cancel(in_prolog)
        wait(client, in_prolog)
        prolog_end = float((tmp_path / f"prolog_end.{in_prolog}").read_text())
        epilog_start = float((tmp_path / f"epilog_start.{in_prolog}").read_text())
        assert epilog_start >= prolog_end
        assert names(client, in_prolog) == [
            "submit", "validate", "depend", "priority", "alloc", "prolog-start", "exception",
            "epilog-start", "prolog-finish", "release", "epilog-finish", "free", "clean"]
        assert client.job(in_prolog)["result_name"] == "CANCELED"
        assert drained(client) == {}


def test_a_job_cancelled_while_pending_runs_no_hook_at_all(prep_instance, make_script,
                                                           tmp_path):
    hook = make_script("hook", f"echo $SLURM_SCRIPT_CONTEXT >> {tmp_path}/ran\n")
    instance = prep_instance(f"""
        prolog = "{hook}"
        epilog = "{hook}"
        prolog-slurmctld = "{hook}"
        epilog-slurmctld = "{hook}"
    """)
    with instance.client() as client:
        job_id = submit(client, ["true"], urgency=0)
        wait(client, job_id, "priority")
        client.cancel(job_id)
        wait(client, job_id)
        assert names(client, job_id) == [
            "submit", "validate", "depend", "priority", "exception", "clean"]
        ran = submit(client, ["true"])
        wait(client, ran)
    assert sorted((tmp_path / "ran").read_text().split()) == [
        "epilog_slurmctld", "epilog_slurmd", "prolog_slurmctld", "prolog_slurmd"]


def test_exit_codes_reach_both_epilogs_as_slurm_gives_them(prep_instance, make_script,
                                                           tmp_path):
    """A.1.1: ``exit 3`` is ``SLURM_JOB_EXIT_CODE=768``, ``SLURM_JOB_EXIT_CODE2=3:0``; the
    prologs have neither."""
    dump = make_script("dump", f"env > {tmp_path}/$SLURM_SCRIPT_CONTEXT\n")
    instance = prep_instance(f"""
        prolog = "{dump}"
        epilog = "{dump}"
        prolog-slurmctld = "{dump}"
        epilog-slurmctld = "{dump}"
    """, test_size=1)
    with instance.client() as client:
        job_id = submit(client, ["sh", "-c", "exit 3"])
        wait(client, job_id)
        assert client.job(job_id)["result_name"] == "FAILED"
    for context in ("epilog_slurmd", "epilog_slurmctld"):
        env = read_env(tmp_path / context)
        assert (env["SLURM_JOB_EXIT_CODE"], env["SLURM_JOB_EXIT_CODE2"],
                env["SLURM_JOB_DERIVED_EC"]) == ("768", "3:0", "0")
    for context in ("prolog_slurmd", "prolog_slurmctld"):
        assert "SLURM_JOB_EXIT_CODE" not in read_env(tmp_path / context)
