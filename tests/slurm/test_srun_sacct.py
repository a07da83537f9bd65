"""srun (outside an allocation), salloc and sacct against a real instance (steps: test_steps)."""

import contextlib
import json
import os
import sqlite3
import time

from support import Terminal


def test_srun_runs_tasks_with_labels_and_their_exit_code(slurm):
    result = slurm.run("srun", "-n", "2", "--label", "sh", "-c",
                       "echo $SLURM_PROCID of $SLURM_NTASKS step $SLURM_STEP_ID")
    assert sorted(result.stdout.splitlines()) == ["0: 0 of 2 step 0", "1: 1 of 2 step 0"]
    failed = slurm.run("srun", "sh", "-c", "echo out; exit 3", check=False)
    host = slurm.run("scontrol", "show", "hostnames",
                     env={"SLURM_JOB_NODELIST": slurm.run("sinfo", "-h", "-o",
                                                          "%N").stdout.strip()}).stdout.strip()
    assert (failed.returncode, failed.stdout) == (3, "out\n")
    assert failed.stderr == f"srun: error: {host}: task 0: Exited with exit code 3\n"
    missing = slurm.run("srun", "/bin/no_such_file", check=False)
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [
        f"slurmstepd-{host}: error: execve(): /bin/no_such_file: No such file or directory",
        f"srun: error: {host}: task 0: Exited with exit code 2"]


def test_salloc_runs_the_command_with_the_allocations_environment(slurm):
    result = slurm.run("salloc", "-n", "1", "sh", "-c",
                       "echo $SLURM_JOB_ID $SLURM_NNODES; exit 4", check=False)
    job_id = int(result.stdout.split()[0])
    assert (result.returncode, result.stdout) == (4, f"{job_id} 1\n")
    assert result.stderr.splitlines() == [
        f"salloc: Pending job allocation {job_id}", f"salloc: Granted job allocation {job_id}",
        f"salloc: Relinquishing job allocation {job_id}"]
    slurm.wait(job_id)
    assert slurm.run("sacct", "-j", job_id, "-n", "-P", "-o", "State").stdout == "COMPLETED\n"


def test_salloc_ignores_ctrl_c_while_its_command_runs_and_withdraws_a_pending_request(slurm):
    program = os.path.join(slurm.bin_dir, "salloc")
    running = Terminal(slurm.instance, "sh", "-c",
                       "trap 'echo got INT' INT; echo ready; sleep 2; echo done",
                       program=program)
    try:
        running.read_until("ready\r\n")
        running.type(b"\x03")
        status = running.exit_status()
    finally:
        running.close()
    shown = running.output.decode(errors="replace").replace("^C", "").splitlines()
    assert status == 0, shown
    job_id = int(shown[0].rsplit(" ", 1)[1])
    assert shown[-3:] == ["got INT", "done", f"salloc: Relinquishing job allocation {job_id}"]
    slurm.wait(job_id)
    pending = Terminal(slurm.instance, "-H", "true", program=program)
    try:
        job_id = int(pending.read_until_match(r"Pending job allocation (\d+)\r\n").group(1))
        pending.type(b"\x03")
        status = pending.exit_status()
    finally:
        pending.close()
    shown = pending.output.decode(errors="replace").replace("^C", "").splitlines()
    assert (status, shown[-2:]) == (1, [f"salloc: Job allocation {job_id} has been revoked.",
                                        "salloc: Job aborted due to signal"])
    slurm.wait(job_id)
    assert slurm.run("sacct", "-j", job_id, "-n", "-X", "-P", "-o", "State").stdout.startswith(
        "CANCELLED")


def test_salloc_says_a_command_it_cannot_execute_and_gives_the_allocation_back(slurm):
    result = slurm.run("salloc", "/bin/no_such_file", check=False)
    job_id = int(result.stderr.split()[-1])
    assert (result.returncode, result.stderr.splitlines()[2:]) == (1, [
        'salloc: error: Unable to exec command "/bin/no_such_file"',
        f"salloc: Relinquishing job allocation {job_id}"])
    slurm.wait(job_id)


def test_srun_and_salloc_say_a_refused_job_in_their_own_words(slurm):
    reason = "invalid queue 'nosuch': no queues are configured"
    for command, words in (("srun", "Unable to allocate resources"),
                           ("salloc", "Job submit/allocate failed")):
        result = slurm.run(command, "-p", "nosuch", "true", check=False)
        assert (result.returncode, result.stderr) == (1, f"{command}: error: {words}: {reason}\n")


def test_sacct_rows_batch_steps_and_formats(slurm):
    ok = slurm.sbatch("-J", "good", "--wrap", "true", "-o", "/dev/null")
    bad = slurm.sbatch("-J", "bad", "--wrap", "exit 5", "-o", "/dev/null")
    held = slurm.sbatch("-H", "-J", "held", "--wrap", "true")
    slurm.wait(ok)
    slurm.wait(bad)
    slurm.run("scancel", held)
    slurm.wait(held)
    rows = slurm.run("sacct", "-n", "-P", "-o", "JobID,JobName,State,ExitCode").stdout
    assert rows.splitlines() == [
        f"{ok}|good|COMPLETED|0:0", f"{ok}.batch|batch|COMPLETED|0:0",
        f"{bad}|bad|FAILED|5:0", f"{bad}.batch|batch|FAILED|5:0",
        f"{held}|held|CANCELLED by {os.getuid()}|0:0"]
    assert slurm.run("sacct", "-X", "-n", "-p", "-o", "JobID", "-j", ok).stdout == f"{ok}|\n"
    assert slurm.run("sacct", "-X", "-n", "-P", "-o", "JobID", "-s", "F").stdout == f"{bad}\n"
    # -M selects corral's one cluster (`all`, `corral`); another has no jobs here
    assert slurm.run("sacct", "-X", "-n", "-P", "-o", "JobID", "--clusters", "all", "-j",
                     ok).stdout == f"{ok}\n"
    assert slurm.run("sacct", "-X", "-n", "-P", "-o", "JobID", "-M", "other", "-j",
                     ok).stdout == ""
    # list options given again add up, as submitit's `sacct -j A -j B` needs
    assert slurm.run("sacct", "-X", "-n", "-P", "-o", "JobID", "-o", "State", "-j", ok,
                     "-j", bad).stdout == f"{ok}|COMPLETED\n{bad}|FAILED\n"
    assert slurm.run("sacct", "-X", "-n", "-P", "-o", "JobID", "--name", "good").stdout == \
        f"{ok}\n"
    table = slurm.run("sacct", "-X", "-j", ok, "-o", "JobID,JobName%6,AllocCPUS").stdout
    assert table.splitlines() == ["       JobID JobNam  AllocCPUS ",
                                  "------------ ------ ---------- ",
                                  f"{ok:<12}   good          1 "]


def test_sacct_with_no_history_prints_a_header_and_exits_0(slurm):
    result = slurm.run("sacct")
    assert result.stdout.splitlines() == [
        "       JobID    JobName  Partition    Account  AllocCPUS      State ExitCode ",
        "------------ ---------- ---------- ---------- ---------- ---------- -------- "]


def _age_history(instance, seconds):
    """Move the stopped instance's stored jobs ``seconds`` back in time, as if they had run
    that long ago: their summaries (what a restart reloads finished jobs from), submit times
    and events."""
    path = os.path.join(instance.state_dir, "corral.db")
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        rows = db.execute("SELECT id, summary FROM jobs WHERE summary IS NOT NULL").fetchall()
        for job_id, text in rows:
            summary = json.loads(text)
            for key in [key for key in summary if key.startswith("t_") and summary[key]]:
                summary[key] -= seconds
            db.execute("UPDATE jobs SET summary = ? WHERE id = ?", (json.dumps(summary), job_id))
        db.execute("UPDATE jobs SET t_submit = t_submit - ?", (seconds,))
        db.execute("UPDATE events SET timestamp = timestamp - ?", (seconds,))


def test_sacct_j_lists_every_task_of_an_array_that_ended_long_ago(slurm):
    """Beyond MinJobAge (300 s, after which squeue forgets a job) and across a restart, ``-j``
    still names the whole array and each of its tasks, as Slurm's accounting does."""
    first = slurm.sbatch("--array=1-4", "--wrap", "true", "-o", "/dev/null")
    with slurm.instance.client() as client:
        for job in client.jobs():
            slurm.wait(job["id"])
    slurm.instance.stop()
    _age_history(slurm.instance, 3600)
    slurm.instance.start()
    tasks = [f"{first}_{task}" for task in range(1, 5)]
    listed = ("sacct", "-X", "-n", "-P", "-o", "JobID")
    assert slurm.run(*listed, "-S", "now-2hours").stdout.split() == tasks
    assert slurm.run(*listed, "-j", first).stdout.split() == tasks
    assert slurm.run(*listed, "-j", f"{first}_2").stdout.split() == [f"{first}_2"]
    assert slurm.run("squeue", "-h", "-j", first, "-o", "%i").stdout == ""


def test_sacct_S_reads_clock_times_and_dates_as_past_ones(slurm):
    """``-S midnight`` and ``-S 00:00`` are today's (for ``--begin`` they would be tomorrow's,
    a window with no job yet); ``MMDD`` is one of Slurm's date forms."""
    job_id = slurm.sbatch("--wrap", "true", "-o", "/dev/null")
    slurm.wait(job_id)
    listed = ("sacct", "-X", "-n", "-P", "-o", "JobID", "-S")
    for start in ("midnight", "00:00", time.strftime("%m%d"), time.strftime("%m/%d-00:00")):
        assert slurm.run(*listed, start).stdout == f"{job_id}\n", start
