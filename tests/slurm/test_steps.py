"""Job steps: ``srun`` inside a batch job (or ``salloc``) runs in the job's own allocation."""

import json
import os
import signal
import subprocess

import pytest

from support import until, wait

PLUGINS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "plugins")


def _host(slurm) -> str:
    return slurm.run("sinfo", "-h", "-o", "%N").stdout.strip()


def _steps(slurm, job_id) -> list[dict]:
    with slurm.instance.client() as client:
        return [event for event in client.eventlog(job_id)
                if event["name"].startswith("step-")]


def test_two_sequential_steps_have_ids_0_and_1_outputs_and_exit_codes(slurm):
    script = slurm.script("steps.sh", "#!/bin/sh\n#SBATCH -n 2\n"
                          "srun -n 1 sh -c 'echo first $SLURM_STEP_ID $SLURM_PROCID'\n"
                          "echo first exit $?\n"
                          "srun --label sh -c 'echo second $SLURM_STEP_ID; exit 3'\n"
                          "echo second exit $?\n")
    job_id = slurm.sbatch("-o", "out.txt", script)
    slurm.wait(job_id)
    lines = slurm.read("out.txt").splitlines()
    host = _host(slurm)
    assert lines[:2] == ["first 0 0", "first exit 0"]
    assert sorted(lines[2:6]) == ["0: second 1", "1: second 1",
                                  f"srun: error: {host}: task 0: Exited with exit code 3",
                                  f"srun: error: {host}: task 1: Exited with exit code 3"]
    assert lines[6:] == ["second exit 3"]
    events = _steps(slurm, job_id)
    assert [(event["name"], event["context"]["step"]) for event in events] == [
        ("step-start", 0), ("step-finish", 0), ("step-start", 1), ("step-finish", 1)]
    assert events[0]["context"]["ntasks"] == 1 and events[2]["context"]["ntasks"] == 2
    assert (events[1]["context"]["status"], events[3]["context"]["status"]) == (0, 3 << 8)
    rows = slurm.run("sacct", "-j", job_id, "-n", "-P", "-o",
                     "JobID,JobName,State,ExitCode,NTasks").stdout.splitlines()
    assert rows == [f"{job_id}|steps.sh|COMPLETED|0:0|", f"{job_id}.batch|batch|COMPLETED|0:0|1",
                    f"{job_id}.0|sh|COMPLETED|0:0|1", f"{job_id}.1|sh|FAILED|3:0|2"]


def test_per_task_files_are_the_tasks_own_and_hold_a_line_once_it_is_written(slurm):
    # A task reads its own file back at once: the line is there because the task wrote it,
    # not a copy srun makes later (what submitit relies on when it reads a log beside a
    # result).  srun's own words about a failed task stay on srun's stderr.
    script = slurm.script("steps.sh", "#!/bin/sh\n#SBATCH -n 2\n"
                          "srun -o task-%t.out sh -c 'echo line $SLURM_PROCID; "
                          "cat task-$SLURM_PROCID.out > seen-$SLURM_PROCID; exit 3'\n"
                          "srun --open-mode=append -l -o task-%2t.log -e err-%t.log "
                          "sh -c 'echo more; echo oops >&2'\n")
    slurm.script("task-01.log", "before\n")
    job_id = slurm.sbatch("-o", "out.txt", "-e", "err.txt", script)
    slurm.wait(job_id)
    assert [slurm.read(name) for name in ("task-0.out", "seen-0", "task-1.out", "seen-1")] == \
        ["line 0\n"] * 2 + ["line 1\n"] * 2
    host = _host(slurm)
    assert sorted(slurm.read("err.txt").splitlines()) == [
        f"srun: error: {host}: task 0: Exited with exit code 3",
        f"srun: error: {host}: task 1: Exited with exit code 3"]
    assert (slurm.read("task-00.log"), slurm.read("task-01.log")) == ("0: more\n",
                                                                      "before\n1: more\n")
    assert (slurm.read("err-0.log"), slurm.read("err-1.log")) == ("0: oops\n", "1: oops\n")
    assert slurm.read("out.txt") == ""


def test_sacct_j_with_a_step_selects_that_row_alone(slurm):
    script = slurm.script("steps.sh", "#!/bin/sh\nsrun true\nsrun false\nexit 0\n")
    job_id = slurm.sbatch("-o", "/dev/null", script)
    slurm.wait(job_id)

    def rows(*selection):
        return slurm.run("sacct", "-n", "-P", "-o", "JobID,State", *selection).stdout

    assert rows("-j", f"{job_id}.1") == f"{job_id}.1|FAILED\n"
    assert rows("-j", f"{job_id}.batch") == f"{job_id}.batch|COMPLETED\n"
    assert rows("-j", f"{job_id}.batch,{job_id}.00") == \
        f"{job_id}.batch|COMPLETED\n{job_id}.0|COMPLETED\n"
    assert rows("-j", f"{job_id}.1,{job_id}").splitlines() == [
        f"{job_id}|COMPLETED", f"{job_id}.batch|COMPLETED", f"{job_id}.0|COMPLETED",
        f"{job_id}.1|FAILED"]
    assert rows("-j", f"{job_id}.7") == rows("-X", "-j", f"{job_id}.1") == ""
    refused = slurm.run("sacct", "-j", f"{job_id}.first", check=False)
    assert (refused.returncode, refused.stdout, refused.stderr) == (
        1, "", f"sacct: error: Invalid job id: {job_id}.first\n")


def test_concurrent_steps_share_the_allocation_on_their_own_cores(slurm):
    # --cpu-bind names what corral does anyway (Snakemake's steps ask for `q`)
    script = slurm.script("both.sh", "#!/bin/sh\n#SBATCH -n 2\n"
                          "srun -n 1 --cpu-bind=q sh -c 'touch a; while [ ! -e b ]; do "
                          "sleep 0.05; done; grep Cpus_allowed_list /proc/self/status' > a.out &\n"
                          "srun -n 1 --cpu-bind=quiet,cores sh -c 'touch b; "
                          "while [ ! -e a ]; do sleep 0.05; done; "
                          "grep Cpus_allowed_list /proc/self/status' > b.out &\n"
                          "wait\n")
    job_id = slurm.sbatch("-o", "out.txt", script)
    slurm.wait(job_id)
    assert slurm.read("out.txt") == ""  # neither waited for the other
    cpus = {slurm.read("a.out"), slurm.read("b.out")}
    assert len(cpus) == 2  # each step on a core of its own
    assert sorted(event["context"]["step"] for event in _steps(slurm, job_id)
                  if event["name"] == "step-start") == [0, 1]
    refused = slurm.run("srun", "--cpu-bind=none", "true", check=False)
    assert (refused.returncode, refused.stderr) == (
        1, "srun: error: --cpu-bind=none: corral binds each task to its own cores "
           "(cores, quiet)\n")


def test_a_step_bigger_than_the_allocation_fails_at_once(slurm):
    script = slurm.script("big.sh", "#!/bin/sh\n#SBATCH -n 1\nsrun -n 3 true\necho $?\n")
    job_id = slurm.sbatch("-o", "out.txt", script)
    slurm.wait(job_id)
    assert slurm.read("out.txt") == (f"srun: error: Unable to create step for job {job_id}: "
                                     "More processors requested than permitted\n1\n")
    assert _steps(slurm, job_id) == []


def test_a_step_waits_for_busy_cores_then_runs(slurm):
    script = slurm.script("wait.sh", "#!/bin/sh\n#SBATCH -n 2\n"
                          "srun -n 2 sh -c 'touch started; sleep 1' &\n"
                          "while [ ! -e started ]; do sleep 0.05; done\n"
                          "srun -n 1 echo later\nwait\n")
    job_id = slurm.sbatch("-o", "out.txt", script)
    slurm.wait(job_id)
    assert slurm.read("out.txt").splitlines() == [
        f"srun: Job {job_id} step creation temporarily disabled, retrying "
        "(Requested nodes are busy)", f"srun: Step created for StepId={job_id}.1", "later"]
    names = [(event["name"], event["context"]["step"]) for event in _steps(slurm, job_id)]
    assert names == [("step-start", 0), ("step-finish", 0), ("step-start", 1),
                     ("step-finish", 1)]


def test_stdin_goes_to_task_0(slurm):
    script = slurm.script("in.sh", "#!/bin/sh\n#SBATCH -n 2\n"
                          "printf 'one\\ntwo\\n' | srun -n 2 --label cat\n")
    job_id = slurm.sbatch("-o", "out.txt", script)
    slurm.wait(job_id)
    assert slurm.read("out.txt") == "0: one\n0: two\n"


def test_squeue_s_lists_a_running_step_and_scancel_cancels_it(slurm):
    script = slurm.script("long.sh", "#!/bin/sh\n#SBATCH -n 1\n"
                          "srun -J sleeper sleep 60\necho srun $?\nsrun true\n")
    job_id = slurm.sbatch("-o", "out.txt", script)
    user = slurm.run("id", "-un").stdout.strip()
    listed = until(lambda: slurm.run("squeue", "-s").stdout.splitlines()[1:], timeout=30)
    header = slurm.run("squeue", "-s").stdout.splitlines()[0]
    assert header == "         STEPID     NAME PARTITION     USER      TIME NODELIST"
    assert listed[0].split()[:4] == [f"{job_id}.0", "sleeper", "default", user[:8]]
    assert listed[0].split()[5] == _host(slurm)
    assert slurm.run("squeue", "-s", "-h", "-j", job_id).stdout.split()[0] == f"{job_id}.0"
    assert slurm.run("squeue", "-s", "-h", "-j", "999").stdout == ""
    slurm.run("scancel", f"{job_id}.0")
    slurm.wait(job_id)
    assert slurm.read("out.txt") == f"srun {128 + signal.SIGKILL}\n"
    rows = slurm.run("sacct", "-j", job_id, "-n", "-P", "-o", "JobID,State,ExitCode").stdout
    assert rows.splitlines() == [f"{job_id}|COMPLETED|0:0", f"{job_id}.batch|COMPLETED|0:0",
                                 f"{job_id}.0|CANCELLED|0:9", f"{job_id}.1|COMPLETED|0:0"]
    again = slurm.run("scancel", f"{job_id}.0", check=False)
    assert (again.returncode, again.stderr) == (
        1, f"scancel: error: Kill job error on job id {job_id}.0: Job/step already "
           "completing or completed\n")


def test_srun_under_salloc_runs_steps(slurm):
    result = slurm.run("salloc", "-n", "2", "srun", "--label", "sh", "-c",
                       "echo $SLURM_STEP_ID $SLURM_PROCID $SLURM_STEP_NUM_TASKS")
    assert sorted(result.stdout.splitlines()) == ["0: 0 0 2", "1: 0 1 2"]


def test_interrupting_srun_kills_its_step(slurm):
    job_id = int(slurm.run("sbatch", "--parsable", "-n", "1", "--wrap", "sleep 60").stdout)
    until(lambda: slurm.run("squeue", "-h", "-j", job_id, "-o", "%t").stdout.strip() == "R")
    srun = subprocess.Popen(["srun", "sleep", "60"], env=dict(slurm.env,
                                                             SLURM_JOB_ID=str(job_id)),
                            stderr=subprocess.PIPE, text=True, cwd=slurm.work_dir)
    until(lambda: slurm.run("squeue", "-s", "-h").stdout)
    srun.send_signal(signal.SIGINT)
    assert srun.wait(30) == 128 + signal.SIGKILL
    assert srun.stderr.read().splitlines() == [
        "srun: forcing job termination", f"srun: Job step aborted: StepId={job_id}.0"]
    slurm.run("scancel", job_id)


def test_interrupting_srun_outside_an_allocation_cancels_its_job_in_the_same_words(slurm):
    srun = subprocess.Popen(["srun", "sleep", "60"], env=slurm.env, stderr=subprocess.PIPE,
                            text=True, cwd=slurm.work_dir)
    until(lambda: slurm.run("squeue", "-h", "-t", "R", "-o", "%i").stdout.strip())
    job_id = int(slurm.run("squeue", "-h", "-o", "%i").stdout)
    srun.send_signal(signal.SIGINT)
    assert srun.wait(30) == 128 + signal.SIGTERM
    assert srun.stderr.read().splitlines() == [
        "srun: forcing job termination", f"srun: Job step aborted: StepId={job_id}.0",
        f"srun: error: *** JOB {job_id} CANCELLED ***"]
    assert slurm.run("sacct", "-X", "-n", "-P", "-o", "State", "-j", job_id).stdout == \
        f"CANCELLED by {os.getuid()}\n"


def test_a_jobtap_plugin_sees_step_events(slurm):
    with slurm.instance.client() as client:
        client.rpc("job-manager.jobtap", {"load": os.path.join(PLUGINS, "step_events.py")})
        job_id = int(slurm.run("sbatch", "--parsable", "-n", "1", "--wrap",
                               "srun -J one true").stdout)
        slurm.wait(job_id)

        def seen():
            lines = client.rpc("log.dmesg", {})["lines"]
            found = [json.loads(line.split("step-events: ", 1)[1]) for line in lines
                     if "step-events: " in line]
            return found if len(found) >= 2 else None

        seen = until(seen)
    assert [(item["topic"], item["state"]) for item in seen] == [
        ("job.event.step-start", 16), ("job.event.step-finish", 16)]
    assert seen[0]["context"]["name"] == "one" and seen[1]["context"] == {"step": 0, "status": 0}


def test_steps_span_the_allocations_nodes_unless_told(make_slurm):
    slurm = make_slurm(test_size=2)
    script = slurm.script("nodes.sh", "#!/bin/sh\n#SBATCH -N 2 --ntasks-per-node 2\n"
                          "srun sh -c 'echo $SLURMD_NODENAME $SLURM_NODEID $SLURM_LOCALID' | sort\n"
                          "srun -n 1 sh -c 'echo one $SLURM_STEP_NODELIST'\n"
                          "srun -N 1 -n 2 sh -c 'echo $SLURM_STEP_TASKS_PER_NODE' | uniq\n")
    job_id = slurm.sbatch("-o", "out.txt", script)
    slurm.wait(job_id)
    nodes = slurm.run("scontrol", "show", "hostnames", env={
        "SLURM_JOB_NODELIST": slurm.run("sinfo", "-h", "-o", "%N").stdout.strip()}).stdout.split()
    assert slurm.read("out.txt").splitlines() == [
        f"{nodes[0]} 0 0", f"{nodes[0]} 0 1", f"{nodes[1]} 1 0", f"{nodes[1]} 1 1",
        f"one {nodes[0]}", "2"]


def test_purging_a_job_removes_the_output_kept_with_it_and_with_its_steps(slurm):
    output_dir = os.path.join(slurm.instance.state_dir, "output")
    script = slurm.script("steps.sh", "#!/bin/sh\nsrun echo zero\nsrun sh -c 'echo one >&2'\n")
    purged = slurm.sbatch("-o", "batch.out", script)
    kept = slurm.sbatch("-o", "other.out", script)
    plain = slurm.instance.submit("sh", "-c", "echo out; echo err >&2")
    for job_id in (purged, kept, plain):
        slurm.wait(job_id)
    files = {f"{purged}.0.out", f"{purged}.1.err", f"{kept}.0.out", f"{kept}.1.err",
             f"{plain}.out", f"{plain}.err"}
    assert files <= set(os.listdir(output_dir))
    assert slurm.instance.corral("job", "purge", "-f", purged, plain).stdout == \
        "purged 2 jobs\n"
    assert until(lambda: set(os.listdir(output_dir)) == {f"{kept}.0.out", f"{kept}.1.err"})
    assert slurm.read("batch.out") == "zero\none\n"  # the user's own file stays


@pytest.mark.agent_processes  # tasks that outlive the controller
def test_a_running_step_and_its_srun_outlive_a_killed_controller(slurm):
    script = slurm.script("outlive.sh", "#!/bin/sh\n"
                          "srun sh -c 'sleep 2; echo step done'\necho srun exit $?\nsleep 4\n")
    job_id = slurm.sbatch("-o", "out.txt", script)
    until(lambda: _steps(slurm, job_id), timeout=30)
    slurm.instance.kill()
    slurm.instance.start()
    with slurm.instance.client() as client:
        finish = wait(client, job_id, "step-finish", timeout=30)
    assert finish["context"] == {"step": 0, "status": 0}
    slurm.wait(job_id)
    output_dir = os.path.join(slurm.instance.state_dir, "output")
    with open(os.path.join(output_dir, f"{job_id}.0.out")) as file:
        assert file.read() == "step done\n"
    assert slurm.run("sacct", "-n", "-P", "-o", "JobID,State", "-j", f"{job_id}.0").stdout == \
        f"{job_id}.0|COMPLETED\n"
    # srun, a client of the killed controller, waits for the next one and follows its step on.
    assert slurm.read("out.txt") == (f"srun: lost the instance at {slurm.instance.uri}; waiting "
                                     f"for it to come back to follow job {job_id} on\n"
                                     "step done\nsrun exit 0\n")


@pytest.mark.agent_processes
def test_a_step_taken_back_ends_killed_when_its_agent_came_back_without_it(slurm):
    script = slurm.script("lost.sh", "#!/bin/sh\nsrun sleep 30\n")
    job_id = slurm.sbatch("-o", "/dev/null", script)
    until(lambda: _steps(slurm, job_id), timeout=30)
    slurm.instance.kill()
    slurm.instance.stop_agents()  # they kill their tasks, the step's with the job's
    slurm.instance.start()
    with slurm.instance.client() as client:
        finish = wait(client, job_id, "step-finish", timeout=30)
    context = finish["context"]
    assert (context["step"], context["status"]) == (0, signal.SIGKILL)
    assert context["note"].endswith(" restarted")  # the agent of node NAME (rank 0) restarted
    assert slurm.run("sacct", "-n", "-P", "-o", "JobID,State", "-j", f"{job_id}.0").stdout == \
        f"{job_id}.0|CANCELLED\n"
    slurm.run("scancel", job_id)  # its node failed under it: it was requeued
