"""squeue against a real instance: the columns and filters tools poll, finished jobs kept for
MinJobAge, arrays, JSON."""

import json
import os
import pwd


def test_psij_style_polling_sees_running_then_cancelled(slurm):
    job_id = slurm.sbatch("--wrap", "sleep 30", "-o", "/dev/null")
    with slurm.instance.client() as client:
        client.wait_event(job_id, "start", 10)
    poll = ["squeue", "-O", "JobArrayID,StateCompact,Reason", "-t", "all", "--me"]
    lines = slurm.run(*poll).stdout.splitlines()
    assert lines[0] == "JOBID               ST                  REASON              "
    assert f"{job_id:<20}{'R':<20}{'None':<20}" in lines
    assert slurm.run("scancel", "-Q", job_id).returncode == 0
    slurm.wait(job_id)
    assert f"{job_id:<20}{'CA':<20}{'None':<20}" in slurm.run(*poll).stdout.splitlines()


def test_a_job_is_listed_as_soon_as_sbatch_returns_and_the_header_is_always_there(slurm):
    empty = slurm.run("squeue", "-O", "JobArrayID,StateCompact,Reason", "-t", "all", "--me")
    assert empty.stdout == "JOBID               ST                  REASON              \n"
    job_id = slurm.sbatch("-H", "--wrap", "true")
    assert slurm.run("squeue", "--me", "-o", "%i", "-h", "-r", "-t", "all").stdout == \
        f"{job_id}\n"
    slurm.run("scancel", job_id)


def test_default_view_lists_active_jobs_only_but_j_shows_a_finished_one(slurm):
    done = slurm.sbatch("-J", "done", "--wrap", "true", "-o", "/dev/null")
    slurm.wait(done)
    held = slurm.sbatch("-H", "-J", "held", "--wrap", "true")
    user = pwd.getpwuid(os.getuid()).pw_name
    assert slurm.run("squeue").stdout.splitlines() == [
        "             JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)",
        f"{held:>18}   default     held {user[:8]:>8} PD       0:00      1 (JobHeldUser)",
    ]
    assert slurm.run("squeue", "-h", "-j", done, "-o", "%i|%T|%j|%D|%C").stdout == \
        f"{done}|COMPLETED|done|1|1\n"
    slurm.run("scancel", held)


def test_j_with_one_job_that_does_not_exist_fails_as_slurms(slurm):
    missing = slurm.run("squeue", "-j", "99999", check=False)
    assert (missing.returncode, missing.stdout, missing.stderr) == (
        1, "", "slurm_load_jobs error: Invalid job id specified\n")
    held = slurm.sbatch("-H", "--wrap", "true")
    assert slurm.run("squeue", "-h", "-j", f"99999,{held}", "-o", "%i").stdout == f"{held}\n"
    slurm.run("scancel", held)


def test_filters_by_name_partition_user_and_state(slurm):
    a = slurm.sbatch("-H", "-J", "alpha", "--wrap", "true")
    b = slurm.sbatch("-H", "-J", "beta", "--wrap", "true")
    user = pwd.getpwuid(os.getuid()).pw_name
    assert slurm.run("squeue", "-h", "-o", "%i", "-n", "beta").stdout == f"{b}\n"
    assert slurm.run("squeue", "-h", "-o", "%i", "-p", "default", "-u", user,
                     "-t", "PD").stdout.split() == [str(a), str(b)]
    assert slurm.run("squeue", "-h", "-o", "%i", "-t", "R").stdout == ""
    assert slurm.run("squeue", "-h", "-o", "%i", "-p", "other").stdout == ""
    bad = slurm.run("squeue", "-t", "bogus", check=False)
    assert (bad.returncode, bad.stderr) == (1, "squeue: error: Invalid job state specified: "
                                               "BOGUS\n")
    slurm.run("scancel", a, b)


def test_pending_array_tasks_share_a_row_unless_r(slurm):
    first = slurm.sbatch("-H", "--array=1-4", "--wrap", "true")
    assert slurm.run("squeue", "-h", "-o", "%i %t").stdout == f"{first}_[1-4] PD\n"
    assert slurm.run("squeue", "-h", "-r", "-o", "%i").stdout.split() == \
        [f"{first}_{task}" for task in range(1, 5)]
    slurm.run("scancel", first)
    assert slurm.run("squeue", "-h", "-r", "-t", "CA", "-o", "%i").stdout.count("\n") == 4


def test_json_has_slurms_shape_for_the_fields_given(slurm):
    job_id = slurm.sbatch("-H", "-J", "js", "-t", "5", "--wrap", "true")
    document = json.loads(slurm.run("squeue", "--json").stdout)
    (job,) = document["jobs"]
    assert job["job_id"] == job_id and job["name"] == "js"
    assert job["job_state"] == ["PENDING"] and job["state_reason"] == "JobHeldUser"
    assert job["time_limit"] == {"set": True, "infinite": False, "number": 5}
    assert document["errors"] == []
    slurm.run("scancel", job_id)


def test_job_list_since_leaves_out_jobs_that_ended_before_it(slurm):
    """The server-side filter squeue's MinJobAge window rides on."""
    import time

    job_id = slurm.sbatch("--wrap", "true", "-o", "/dev/null")
    slurm.wait(job_id)
    with slurm.instance.client() as client:
        assert [job["id"] for job in client.jobs(userid=-1, since=time.time() - 60)] == [job_id]
        assert client.jobs(userid=-1, since=time.time() + 1) == []
