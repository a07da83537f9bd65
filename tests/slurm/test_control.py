"""scancel, scontrol and sinfo against a real instance."""

import os
import re

from support import until


def test_scancel_messages_and_exit_codes_are_slurms(slurm):
    job_id = slurm.sbatch("--wrap", "true", "-o", "/dev/null")
    slurm.wait(job_id)
    done = slurm.run("scancel", job_id, check=False)
    assert (done.returncode, done.stderr) == (
        1, f"scancel: error: Kill job error on job id {job_id}: Job/step already completing "
           "or completed\n")
    assert slurm.run("scancel", "-Q", job_id).stderr == ""
    unknown = slurm.run("scancel", "99999", check=False)
    assert (unknown.returncode, unknown.stderr) == (
        1, "scancel: error: Kill job error on job id 99999: Invalid job id specified\n")


def test_scancel_one_array_task_and_by_name(slurm):
    first = slurm.sbatch("-H", "--array=1-3", "-J", "arr", "--wrap", "true")
    slurm.run("scancel", f"{first}_2")
    rows = slurm.run("squeue", "-h", "-r", "-t", "all", "-o", "%i %t").stdout.splitlines()
    assert sorted(rows) == [f"{first}_1 PD", f"{first}_2 CA", f"{first}_3 PD"]
    slurm.run("scancel", "-n", "arr")
    assert slurm.run("squeue", "-h", "-o", "%i").stdout == ""


def test_scancel_array_task_lists_and_an_array_partly_over(slurm):
    first = slurm.sbatch("-H", "--array=1-5", "-J", "arr", "--wrap", "true")
    slurm.run("scancel", f"{first}_[1-2,4]")
    rows = slurm.run("squeue", "-h", "-r", "-t", "all", "-o", "%i %t").stdout.splitlines()
    assert sorted(rows) == [f"{first}_{task} {state}" for task, state
                            in [(1, "CA"), (2, "CA"), (3, "PD"), (4, "CA"), (5, "PD")]]
    assert slurm.run("scancel", first).stderr == ""  # its ended tasks are no error
    over = slurm.run("scancel", first, check=False)
    assert (over.returncode, over.stderr) == (
        1, f"scancel: error: Kill job error on job id {first}: Job/step already completing "
           "or completed\n")
    assert slurm.run("scancel", "-Q", first).stderr == ""
    bad = slurm.run("scancel", f"{first}_[2-1]", check=False)
    assert (bad.returncode, bad.stderr) == (1, f"scancel: error: Invalid job id: {first}_[2-1]\n")


def test_scancel_signal_reaches_the_steps_or_with_b_the_batch_shell(slurm):
    script = ("#!/bin/bash\ntrap 'echo shell got USR1; exit 0' USR1\n"
              "srun sh -c \"trap 'echo step got USR1; exit 0' USR1; touch started; "
              "sleep 20 & wait\"\n"
              "echo step over\nsleep 20 & wait\n")
    slurm.script("trap.sh", script)
    job_id = slurm.sbatch("-o", "trap.out", "trap.sh")
    until(lambda: os.path.exists(os.path.join(slurm.work_dir, "started")), 20)
    slurm.run("scancel", "-s", "USR1", job_id)  # the step, not the shell (as Slurm)
    until(lambda: "step over" in slurm.read("trap.out"), 20)
    slurm.run("scancel", "-b", "-s", "USR1", job_id)  # the shell
    slurm.wait(job_id)
    assert slurm.read("trap.out") == "step got USR1\nstep over\nshell got USR1\n"


def test_scontrol_show_job_has_slurms_keys(slurm):
    job_id = slurm.sbatch("-J", "shown", "-t", "10", "-n", "2", "--wrap", "true",
                          "-o", "/dev/null")
    slurm.wait(job_id)
    text = slurm.run("scontrol", "show", "job", job_id).stdout
    assert text.startswith(f"JobId={job_id} JobName=shown\n")
    for pair in ("JobState=COMPLETED", "Reason=None", "ExitCode=0:0", "TimeLimit=00:10:00",
                 "Partition=default", "NumCPUs=2", "NumTasks=2", "BatchFlag=1",
                 f"WorkDir={slurm.work_dir}"):
        assert pair in text.split(), pair
    missing = slurm.run("scontrol", "show", "job", "99999", check=False)
    assert (missing.returncode, missing.stderr) == (
        1, "slurm_load_jobs error: Invalid job id specified\n")


def test_scontrol_hostnames_hostlist_config_node_partition(slurm):
    env = {"SLURM_JOB_NODELIST": "node[1-3],other"}
    assert slurm.run("scontrol", "show", "hostnames", env=env).stdout == \
        "node1\nnode2\nnode3\nother\n"
    assert slurm.run("scontrol", "show", "hostnames", "a[1-2]").stdout == "a1\na2\n"
    assert slurm.run("scontrol", "show", "hostlist", "n1,n2,n3").stdout == "n[1-3]\n"
    config = slurm.run("scontrol", "show", "config").stdout
    for key in ("MinJobAge               = 300 sec", "MaxArraySize            = 1001",
                "ClusterName             = corral"):
        assert key in config.splitlines()
    assert "State=IDLE" in slurm.run("scontrol", "show", "node").stdout
    assert slurm.run("scontrol", "show", "partition").stdout.startswith(
        "PartitionName=default\n")


def test_scontrol_hold_release_and_update(slurm):
    job_id = slurm.sbatch("--begin=now+600", "--wrap", "true", "-o", "/dev/null")
    slurm.run("scontrol", "hold", job_id)
    assert slurm.run("squeue", "-h", "-j", job_id, "-o", "%r").stdout == "JobHeldUser\n"
    slurm.run("scontrol", "update", f"JobId={job_id}", "TimeLimit=1-00:00:00",
              "JobName=renamed")
    assert slurm.run("squeue", "-h", "-j", job_id, "-o", "%j %l").stdout == \
        "renamed 1-00:00:00\n"
    with slurm.instance.client() as client:
        system = client.job_info(job_id, "jobspec")["jobspec"]["attributes"]["system"]
    assert system["duration"] == 86400
    slurm.run("scontrol", "release", job_id)
    assert slurm.run("squeue", "-h", "-j", job_id, "-o", "%r").stdout == "BeginTime\n"
    for argv, message in ((["Nice=5"], "Update of this parameter is not supported: Nice=5"),
                          ([], "No changes specified")):
        bad = slurm.run("scontrol", "update", f"JobId={job_id}", *argv, check=False)
        assert (bad.returncode, bad.stderr) == (1, f"scontrol: error: {message}\n")
    slurm.run("scancel", job_id)


def test_sinfo_default_node_and_summary_views(make_slurm):
    slurm = make_slurm(test_size=2)
    assert slurm.run("sinfo").stdout == (
        "PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST\n"
        "default*     up   infinite      2   idle node[0-1]\n")
    assert slurm.run("sinfo", "-h", "-o", "%P %a %D %t %N").stdout == \
        "default* up 2 idle node[0-1]\n"
    assert slurm.run("sinfo", "-N", "-h", "-o", "%N %t").stdout == "node0 idle\nnode1 idle\n"
    assert slurm.run("sinfo", "-s", "-h", "-o", "%P %F").stdout == "default* 0/2/0/2\n"
    assert os.path.isdir(slurm.bin_dir)


def test_long_views_of_sinfo_and_squeue_start_with_the_date_as_slurms(make_slurm):
    slurm = make_slurm(test_size=2)
    date = r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \d{4}"
    long = slurm.run("sinfo", "-l").stdout.splitlines()
    assert re.fullmatch(date, long[0]), long
    assert long[1:] == ["PARTITION AVAIL  TIMELIMIT  NODES       STATE NODELIST",
                        "default*     up   infinite      2        idle node[0-1]"]
    nodes = slurm.run("sinfo", "-N", "-l").stdout.splitlines()
    assert nodes[1] == "NODELIST  NODES PARTITION       STATE CPUS"
    assert [row.split()[:4] for row in nodes[2:]] == [["node0", "1", "default*", "idle"],
                                                      ["node1", "1", "default*", "idle"]]
    queue = slurm.run("squeue", "-l").stdout.splitlines()
    assert re.fullmatch(date, queue[0]) and queue[1].split()[4] == "STATE", queue
    assert slurm.run("squeue", "-l", "-h").stdout == ""


def test_scontrol_and_squeue_show_outstanding_dependencies_as_slurm(slurm):
    first = slurm.sbatch("-H", "-J", "one", "--wrap", "true", "-o", "/dev/null")
    array = slurm.sbatch("-H", "--array=1-2%1", "--wrap", "true", "-o", "/dev/null")
    waiting = slurm.sbatch("-d", f"afterok:{first},afterany:{array}_2", "--wrap", "true",
                           "-o", "/dev/null")
    either = slurm.sbatch("-d", f"after:{first}?afternotok:{first}", "--wrap", "true",
                          "-o", "/dev/null")
    single = slurm.sbatch("-J", "one", "-d", "singleton", "--wrap", "true", "-o", "/dev/null")

    def dependency(job_id):
        shown = slurm.run("scontrol", "show", "job", job_id).stdout.split()
        return [pair for pair in shown if pair.startswith(("Reason=", "Dependency="))]

    assert dependency(waiting) == [
        "Reason=Dependency", f"Dependency=afterok:{first}(unfulfilled),"
                             f"afterany:{array}_2(unfulfilled)"]
    assert slurm.run("squeue", "-h", "-o", "%i %E").stdout.splitlines() == [
        f"{first} (null)", f"{array}_[1-2] (null)",  # the throttle is no dependency
        f"{waiting} afterok:{first}(unfulfilled),afterany:{array}_2(unfulfilled)",
        f"{either} after:{first}(unfulfilled)?afternotok:{first}(unfulfilled)",
        f"{single} singleton(unfulfilled)"]
    assert slurm.run("squeue", "-h", "-j", single, "-O", "Dependency:25").stdout == \
        f"{'singleton(unfulfilled)':25}\n"
    slurm.run("scontrol", "release", first)
    slurm.wait(first)
    assert dependency(waiting) == [
        "Reason=Dependency", f"Dependency=afterany:{array}_2(unfulfilled)"]
    slurm.run("scancel", array)
    slurm.wait(waiting)
    assert dependency(waiting) == ["Reason=None", "Dependency=(null)"]


def test_a_dependency_on_a_whole_array_lists_its_tasks_in_order(slurm):
    array = slurm.sbatch("--array=1-3", "-n", "1", "--wrap", "sleep 30", "-o", "/dev/null")
    with slurm.instance.client() as client:
        client.wait_event(array, "start", 10)  # a running task is listed after pending ones
    waiting = slurm.sbatch("-d", f"afterok:{array}", "--wrap", "true", "-o", "/dev/null")
    assert slurm.run("squeue", "-h", "-j", waiting, "-o", "%E").stdout == ",".join(
        f"afterok:{array}_{task}(unfulfilled)" for task in (1, 2, 3)) + "\n"
    slurm.run("scancel", array)


def test_array_task_lists_with_commas_name_tasks_in_hold_release_squeue_and_sacct(slurm):
    first = slurm.sbatch("-H", "--array=1-4", "--wrap", "true", "-o", "/dev/null")
    other = slurm.sbatch("-H", "--wrap", "true", "-o", "/dev/null")
    job_of = dict(line.split()[::-1] for line in slurm.run(
        "squeue", "-h", "-r", "-o", "%A %i", "-j", str(first)).stdout.splitlines())
    assert slurm.run("scontrol", "release", f"{first}_[1,3]").returncode == 0
    pending = slurm.run("squeue", "-h", "-r", "-t", "PD", "-o", "%i",
                        "-j", f"{first}_[1-4],{other}").stdout.split()
    assert pending == [f"{first}_2", f"{first}_4", str(other)]
    assert slurm.run("scontrol", "hold", f"{first}_[2,4],{other}").returncode == 0
    for task in (1, 3):
        slurm.wait(int(job_of[f"{first}_{task}"]))
    accounted = slurm.run("sacct", "-n", "-X", "-P", "-o", "JobID,State",
                          "-j", f"{first}_[1,3]").stdout.split()
    assert accounted == [f"{first}_1|COMPLETED", f"{first}_3|COMPLETED"]
    slurm.run("scancel", first, other)


def test_a_job_id_list_splits_at_commas_outside_an_arrays_brackets():
    from corral.slurm.records import split_ids

    assert split_ids("12_[1,3-5],14,,15_2") == ["12_[1,3-5]", "14", "15_2"]
    assert split_ids(None) == [] and split_ids("") == []
