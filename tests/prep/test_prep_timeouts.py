"""Timeouts (driver rule 7, Slurm's checklist T12/T13): on expiry the script's whole process
group gets SIGTERM, 10 ms later SIGKILL; a timeout is a failure; with no timeout a hook may
take as long as it likes while the job waits."""

import os
import time

from prep_helpers import contexts, dmesg, drained, events, names, submit, until, wait


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _background_sleeper(tmp_path, name):
    """A script that leaves a child in its process group holding its output pipe, a child
    that ignores SIGTERM (only the SIGKILL that follows can end it)."""
    return (f"sh -c 'trap \"\" TERM; exec sleep 60' &\n"
            f"echo $! > {tmp_path}/{name}.child\nwait\n")


def test_an_epilog_that_times_out_is_killed_with_its_process_group_and_drains_the_node(
        prep_instance, make_script, tmp_path):
    """T12/T13: the job is done within the timeout plus a little, its epilog's child is gone,
    the node is drained, the job's result is untouched."""
    epilog = make_script("epilog", _background_sleeper(tmp_path, "epilog"))
    instance = prep_instance(f'epilog = "{epilog}"\nepilog-timeout = "1s"', test_size=1)
    with instance.client() as client:
        job_id = submit(client, ["true"])
        finish = wait(client, job_id, "finish")
        clean = wait(client, job_id)
        assert 1.0 <= clean["timestamp"] - finish["timestamp"] < 4.0
        assert client.job(job_id)["result_name"] == "COMPLETED"
        assert drained(client) == {"node0": "Epilog error"}
        assert contexts(client, job_id, "epilog-finish")[0]["status"] == 15  # SIGTERM
        assert f"JobId={job_id} epilog poll timeout @ 1000 msec" in dmesg(client)
    child = int((tmp_path / "epilog.child").read_text())
    until(lambda: not _alive(child), timeout=2)


def test_a_prolog_that_times_out_is_a_prolog_failure(prep_instance, make_script, tmp_path):
    """A prolog killed at its timeout fails: the node is drained and the job requeued held,
    here though it may not be requeued (``ForceRequeueOnFail``, whose
    rules test_prep_prolog.py tests in the plugin test kit)."""
    prolog = make_script("prolog", _background_sleeper(tmp_path, "prolog"))
    instance = prep_instance(f'prolog = "{prolog}"\ntimeout = "0.5s"\n'
                             'flags = ["ForceRequeueOnFail"]', test_size=1)
    with instance.client() as client:
        job_id = submit(client, ["true"], setattr=["system.requeue=false"])
        requeue = wait(client, job_id, "requeue")
        assert requeue["context"]["reason"] == "launch failed requeued held"
        assert drained(client) == {"node0": "Prolog error"}
    child = int((tmp_path / "prolog.child").read_text())
    until(lambda: not _alive(child), timeout=2)


def test_a_controller_prolog_that_times_out_requeues_the_job(prep_instance, make_script,
                                                            tmp_path):
    """A timed-out PrologSlurmctld reports SIGKILL with ``timed_out``: a failure."""
    ctld_prolog = make_script("ctld_prolog", _background_sleeper(tmp_path, "ctld"))
    instance = prep_instance(f'prolog-slurmctld = "{ctld_prolog}"\nprolog-timeout = "0.5s"',
                             test_size=1)
    with instance.client() as client:
        job_id = submit(client, ["true"])
        requeue = wait(client, job_id, "requeue")
        assert requeue["context"]["reason"] == "PrologSlurmctld failed"
        assert drained(client) == {}
        assert f"prolog_slurmctld JobId={job_id} prolog exit status 0:15 (timed out)" in \
            dmesg(client)
        client.cancel(job_id)
    child = int((tmp_path / "ctld.child").read_text())
    until(lambda: not _alive(child), timeout=2)


def test_without_a_timeout_the_job_waits_for_a_slow_prolog(prep_instance, make_script):
    prolog = make_script("prolog", "sleep 1.2\n")
    instance = prep_instance(f'prolog = "{prolog}"', test_size=1)
    with instance.client() as client:
        job_id = submit(client, ["true"])
        wait(client, job_id)
        start = events(client, job_id, "prolog-start")[0]["timestamp"]
        finish = events(client, job_id, "prolog-finish")[0]["timestamp"]
        assert finish - start >= 1.2
        assert client.job(job_id)["result_name"] == "COMPLETED"


def test_cancelling_a_job_kills_its_controller_prolog_and_that_is_no_failure(
        prep_instance, make_script, tmp_path):
    """Slurm flushes the PrologSlurmctld scripts of a cancelled job (SIGKILL, not timed
    out): the job ends CANCELED, is not requeued, and its controller epilog still runs."""
    ctld_prolog = make_script("ctld_prolog", _background_sleeper(tmp_path, "ctld"))
    ctld_epilog = make_script("ctld_epilog", f"touch {tmp_path}/ctld_epilog.ran\n")
    instance = prep_instance(f'prolog-slurmctld = "{ctld_prolog}"\n'
                             f'epilog-slurmctld = "{ctld_epilog}"', test_size=1)
    with instance.client() as client:
        job_id = submit(client, ["true"])
        until(lambda: (tmp_path / "ctld.child").exists())
        cancelled = time.monotonic()
        client.cancel(job_id)
        wait(client, job_id)
        assert time.monotonic() - cancelled < 5
        assert names(client, job_id) == [
            "submit", "validate", "depend", "priority", "alloc", "prolog-start", "exception",
            "epilog-start", "epilog-finish", "prolog-finish", "free", "clean"]
        assert client.job(job_id)["result_name"] == "CANCELED"
        assert (tmp_path / "ctld_epilog.ran").exists()
    child = int((tmp_path / "ctld.child").read_text())
    until(lambda: not _alive(child), timeout=2)


def test_the_controller_prolog_does_not_count_against_the_time_limit(prep_instance,
                                                                    make_script):
    """Slurm restarts a job's clock when its PrologSlurmctld ends (``Extending JobId=N time
    limit by S secs for configuration``): a 3 s job whose controller prolog took 2 s still
    has its 3 s, and a task of 2 s completes."""
    ctld_prolog = make_script("ctld_prolog", "sleep 2.1\n")
    instance = prep_instance(f'prolog-slurmctld = "{ctld_prolog}"', test_size=1)
    with instance.client() as client:
        job_id = submit(client, ["sleep", "2"], duration="3s")
        wait(client, job_id)
        assert client.job(job_id)["result_name"] == "COMPLETED"
        execution = client.job_info(job_id, "R")["R"]["execution"]
        # The stored R follows the resource-update: starttime + 3 s + the 2 s of prolog.
        assert execution["expiration"] == execution["starttime"] + 3 + 2
        assert contexts(client, job_id, "resource-update") == [
            {"expiration": execution["expiration"]}]
        assert f"Extending JobId={job_id} time limit by 2 secs for configuration" in \
            dmesg(client)
