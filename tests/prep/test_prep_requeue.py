"""Requeue (corral's RFC 21 extension for Slurm's): ``corral job requeue``, the requeue delay
(driver rule 8) and what a restarted controller does with jobs whose prolog or epilog the last
one left open (suggested additions T14 and restart, reference §2.6)."""

import errno
import time

import pytest
from prep_helpers import contexts, events, names, submit, until, wait

from corral.client import RPCError
from support import as_guest

pytestmark = pytest.mark.agent_processes  # jobs that outlive the controller


def test_the_owner_requeues_a_running_job_which_runs_again_after_the_delay(prep_instance):
    """``corral job requeue`` ends the run with a ``requeue`` exception; the job comes back
    to PRIORITY, waits ``requeue-delay`` (reason ``BeginTime``) and runs again."""
    instance = prep_instance('requeue-delay = "1s"', test_size=1)
    with instance.client() as client:
        job_id = submit(client, ["sleep", "30"])
        wait(client, job_id, "start")
        instance.corral("job", "requeue", job_id)
        requeue = wait(client, job_id, "requeue")
        assert requeue["context"] == {"reason": "requeued by request", "hold": False,
                                      "delay": 1.0}
        assert contexts(client, job_id, "exception") == [{
            "type": "requeue", "severity": 0, "note": "requeued by request",
            "userid": client.rpc("instance.info")["owner"]}]
        job = client.job(job_id)
        assert (job["state_name"], job["reason"], job["restarts"]) == ("PRIORITY", "BeginTime",
                                                                      1)
        assert (job["t_run"], job["t_cleanup"]) == (None, None)  # the last run's are gone
        until(lambda: len(events(client, job_id, "start")) == 2)
        second_alloc = events(client, job_id, "alloc")[1]
        assert second_alloc["timestamp"] - requeue["timestamp"] >= 1.0
        job = client.job(job_id)
        assert job["reason"] is None
        assert (job["t_run"], job["t_cleanup"]) == (second_alloc["timestamp"], None)
        # so the second run's runtime counts from its own start
        runtime = instance.corral("jobs", "-o", "{runtime}", "--no-header", job_id).stdout
        assert 0 <= float(runtime) < 30
        client.cancel(job_id)
        wait(client, job_id)
        assert names(client, job_id) == [
            "submit", "validate", "depend", "priority", "alloc", "start", "exception",
            "finish", "release", "free", "requeue", "priority", "alloc", "start", "exception",
            "finish", "release", "free", "clean"]


def test_requeue_with_hold_and_what_cannot_be_requeued(prep_instance):
    instance = prep_instance('requeue-delay = "0.1s"', test_size=1)
    with instance.client() as client:
        running = submit(client, ["sleep", "30"])
        wait(client, running, "start")
        instance.corral("job", "requeue", "--hold", running)
        assert wait(client, running, "requeue")["context"] == {
            "reason": "requeued held by request", "hold": True, "delay": 0.1}
        until(lambda: client.job(running)["state_name"] == "SCHED")
        assert client.job(running)["reason"] == "requeued held by request"
        client.set_urgency(running, 16)
        wait(client, running, "start")
        assert client.job(running)["reason"] is None

        pending = submit(client, ["true"], urgency=0)
        wait(client, pending, "priority")
        failed = instance.corral("job", "requeue", pending, check=False)
        assert (failed.returncode, failed.stderr) == (
            1, f"corral job requeue: {pending}: job {pending} is pending: it has no run to "
               "requeue\n")
        client.cancel(running)
        wait(client, running)
        fixed = submit(client, ["sleep", "30"], setattr=["system.requeue=false"])
        wait(client, fixed, "start")
        failed = instance.corral("job", "requeue", fixed, check=False)
        assert failed.stderr == (f"corral job requeue: {fixed}: job {fixed} cannot be "
                                 "requeued: it was submitted with requeue = false\n")
        client.cancel(fixed)
        wait(client, fixed)
        failed = instance.corral("job", "requeue", fixed, check=False)
        assert failed.stderr == f"corral job requeue: {fixed}: job {fixed} is inactive\n"


def test_only_the_instance_owner_may_requeue(guest_instance):
    instance = guest_instance()
    with instance.client() as client:
        job_id = submit(client, ["sleep", "30"])
        wait(client, job_id, "start")
        with pytest.raises(RPCError) as caught:
            as_guest(instance.uri, lambda guest: guest.rpc("job-manager.requeue",
                                                           {"id": job_id}))
        assert caught.value.errno == errno.EPERM
        client.cancel(job_id)


def test_a_controller_killed_during_a_prolog_requeues_the_job_on_restart(prep_instance,
                                                                         make_script, tmp_path):
    """The tasks never started: the restarted controller closes the prolog the last one left
    open (after ``epilog-start``, as for any prolog that did not finish), runs the epilogs
    and requeues the job, which then runs."""
    prolog = make_script("prolog", f"""
        if [ ! -e {tmp_path}/restarted ]; then touch {tmp_path}/in_prolog; sleep 3; fi
    """)
    epilog = make_script("epilog", f"echo $SLURM_JOB_RESTART_COUNT >> {tmp_path}/epilogs\n")
    instance = prep_instance(f'prolog = "{prolog}"\nepilog = "{epilog}"\n'
                             'requeue-delay = "0.2s"', test_size=1)
    with instance.client() as client:
        job_id = submit(client, ["true"])
        until(lambda: (tmp_path / "in_prolog").exists())
    instance.kill()
    (tmp_path / "restarted").touch()
    instance.start()
    with instance.client() as client:
        wait(client, job_id)
        eventlog = names(client, job_id)
        first_run = eventlog[:eventlog.index("requeue") + 1]
        assert first_run == [
            "submit", "validate", "depend", "priority", "alloc", "prolog-start", "exception",
            "epilog-start", "prolog-finish", "release", "epilog-finish", "free", "requeue"]
        assert contexts(client, job_id, "requeue")[0] == {
            "reason": "the controller stopped during the job's prolog", "hold": False,
            "delay": 0.2}
        assert client.job(job_id)["result_name"] == "COMPLETED"
    assert (tmp_path / "epilogs").read_text().split() == ["1", "1"]


def test_epilogs_a_killed_controller_left_running_run_again_on_restart(prep_instance,
                                                                       make_script, tmp_path):
    epilog = make_script("epilog", f"""
        echo run >> {tmp_path}/epilogs
        if [ ! -e {tmp_path}/restarted ]; then sleep 3; fi
    """)
    instance = prep_instance(f'epilog = "{epilog}"', test_size=1)
    with instance.client() as client:
        job_id = submit(client, ["true"])
        wait(client, job_id, "epilog-start")
        until(lambda: (tmp_path / "epilogs").exists())
        time.sleep(0.1)  # the epilog-start is committed
    instance.kill()
    (tmp_path / "restarted").touch()
    instance.start()
    with instance.client() as client:
        wait(client, job_id)
        assert names(client, job_id) == [
            "submit", "validate", "depend", "priority", "alloc", "start", "finish",
            "epilog-start", "release", "epilog-finish", "free", "clean"]
        assert client.job(job_id)["result_name"] == "COMPLETED"
        follower = submit(client, ["true"])
        wait(client, follower)
    assert (tmp_path / "epilogs").read_text().split() == ["run", "run", "run"]


def test_the_requeue_delay_survives_a_restart(prep_instance):
    # Long enough to outlast a restart on a loaded machine (it waits for the node agent).
    instance = prep_instance('requeue-delay = "5s"', test_size=1)
    with instance.client() as client:
        job_id = submit(client, ["sleep", "30"])
        wait(client, job_id, "start")
        client.rpc("job-manager.requeue", {"id": job_id})
        requeue = wait(client, job_id, "requeue")
    instance.restart()
    with instance.client() as client:
        assert client.job(job_id)["reason"] == "BeginTime"
        assert client.job(job_id)["t_run"] is None  # the eventlog's replay forgets it too
        until(lambda: len(events(client, job_id, "start")) == 2, timeout=15)
        assert events(client, job_id, "alloc")[1]["timestamp"] - requeue["timestamp"] >= 5.0
        client.cancel(job_id)


def test_a_job_requeued_while_its_epilog_runs_is_requeued_after_it(prep_instance, make_script,
                                                                   tmp_path):
    """T14: requeue during COMPLETING (the epilog runs with restart count 0, as it started
    before the request); the run ends with ``requeue`` instead of ``clean``; a job that
    already ended cannot be requeued (corral's inactive jobs are read-only; Slurm starts them
    again)."""
    epilog = make_script("epilog", f"""
        echo $SLURM_JOB_RESTART_COUNT >> {tmp_path}/epilogs
        [ "$SLURM_JOB_RESTART_COUNT" = 0 ] && sleep 1
        exit 0
    """)
    instance = prep_instance(f'epilog = "{epilog}"\nrequeue-delay = "0.1s"', test_size=1)
    with instance.client() as client:
        job_id = submit(client, ["true"])
        wait(client, job_id, "epilog-start")
        client.rpc("job-manager.requeue", {"id": job_id})
        wait(client, job_id)
        assert names(client, job_id) == [
            "submit", "validate", "depend", "priority", "alloc", "start", "finish",
            "epilog-start", "release", "epilog-finish", "free", "requeue", "priority", "alloc",
            "start", "finish", "epilog-start", "release", "epilog-finish", "free", "clean"]
        assert client.job(job_id)["restarts"] == 1
        with pytest.raises(RPCError) as caught:
            client.rpc("job-manager.requeue", {"id": job_id})
        assert caught.value.errno == errno.EINVAL
    assert (tmp_path / "epilogs").read_text().split() == ["0", "1"]
