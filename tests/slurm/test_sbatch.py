"""sbatch against a real instance: scripts, directives, environment, output files, errors."""

import os
import time

from support import Terminal

ENV_SCRIPT = """#!/bin/bash
#SBATCH --ntasks=2
#SBATCH --job-name="env check"
#SBATCH -o out-%j-%x.txt
#SBATCH --time=0:10:0
#SBATCH --mem=102400K
env | grep -E '^SLURMD?_' | sort
echo "args: $*"
"""


def _env(text):
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_batch_script_runs_once_with_slurms_environment_and_output_file(slurm):
    slurm.script("job.sh", ENV_SCRIPT)
    result = slurm.run("sbatch", "job.sh", "one", "two")
    assert result.stdout.startswith("Submitted batch job ")
    job_id = int(result.stdout.split()[-1])
    slurm.wait(job_id)
    output = slurm.read(f"out-{job_id}-env check.txt")
    env = _env(output)
    assert "args: one two" in output
    assert env["SLURM_JOB_ID"] == env["SLURM_JOBID"] == str(job_id)
    assert env["SLURM_JOB_NAME"] == "env check"
    assert env["SLURM_NTASKS"] == env["SLURM_NPROCS"] == "2"
    assert env["SLURM_TASKS_PER_NODE"] == "2"
    assert env["SLURM_CPUS_ON_NODE"] == "2"
    assert env["SLURM_JOB_NUM_NODES"] == env["SLURM_NNODES"] == "1"
    assert env["SLURM_JOB_NODELIST"] == env["SLURM_NODELIST"] == env["SLURMD_NODENAME"]
    assert env["SLURM_SUBMIT_DIR"] == slurm.work_dir
    assert env["SLURM_JOB_PARTITION"] == "default"
    assert env["SLURM_PROCID"] == env["SLURM_LOCALID"] == env["SLURM_NODEID"] == "0"
    assert "SLURM_SUBMIT_HOST" in env


def test_command_line_overrides_directives_and_wrap_and_stdin_work(slurm):
    slurm.script("job.sh", "#!/bin/sh\n#SBATCH -J fromscript\necho $SLURM_JOB_NAME\n")
    job_id = slurm.sbatch("-J fromcli", "-o", "name.out", "job.sh")
    wrap_id = slurm.sbatch("--wrap", "echo wrapped $SLURM_JOB_NAME", "-o", "wrap.out")
    stdin_id = slurm.sbatch("-o", "stdin.out", input="#!/bin/sh\necho from stdin\n")
    for each in (job_id, wrap_id, stdin_id):
        slurm.wait(each)
    assert slurm.read("name.out") == "fromcli\n"
    assert slurm.read("wrap.out") == "wrapped wrap\n"
    assert slurm.read("stdin.out") == "from stdin\n"


def test_default_output_file_is_slurm_jobid_out_in_the_working_directory(slurm, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    job_id = slurm.sbatch("--chdir", elsewhere, "--wrap", "pwd; echo err >&2")
    slurm.wait(job_id)
    assert (elsewhere / f"slurm-{job_id}.out").read_text() == f"{elsewhere}\nerr\n"


def test_an_option_corral_cannot_honour_is_refused_in_one_line(slurm):
    slurm.script("job.sh", "#!/bin/sh\ntrue\n")
    for argv, message in (
        (["--licenses=matlab", "job.sh"], "sbatch: error: unrecognized option '--licenses'\n"),
        (["--dependency=afterok:1?afterok:2,afterany:3", "job.sh"],
         "sbatch: error: invalid dependency specification: afterok:1?afterok:2,afterany:3 (a "
         "list is separated by ',' or by '?', not both)\n"),
        (["-t", "1h", "job.sh"], "sbatch: error: invalid time limit '1h' (MM, MM:SS, HH:MM:SS, "
                                 "D-HH, D-HH:MM or D-HH:MM:SS)\n"),
        (["--gres=fpga:1", "job.sh"], "sbatch: error: --gres=fpga:1: corral knows only the "
                                      "'gpu' resource\n"),
    ):
        result = slurm.run("sbatch", *argv, check=False)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", message)
    slurm.script("noshebang.sh", "echo hi\n")
    result = slurm.run("sbatch", "noshebang.sh", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("sbatch: error: This does not look like a batch script.")


def test_a_script_with_dos_line_breaks_is_refused_and_a_lone_carriage_return_kept(slurm):
    dos = ("sbatch: error: Batch script contains DOS line breaks (\\r\\n)\n"
           "sbatch: error: instead of expected UNIX line breaks (\\n).\n")
    slurm.script("dos.sh", "#!/bin/sh\r\necho hi\r\n")
    for argv, given in ((["dos.sh"], None), ([], "#!/bin/sh\r\necho hi\r\n")):
        result = slurm.run("sbatch", *argv, input=given, check=False)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", dos)
    slurm.script("cr.sh", "#!/bin/sh\necho 'a\rb' | od -An -c\n")
    job_id = slurm.sbatch("-o", "cr.out", "cr.sh")
    slurm.wait(job_id)
    assert slurm.read("cr.out").split() == ["a", "\\r", "b", "\\n"]


def test_a_rejection_by_a_jobtap_plugin_reaches_the_user_as_an_sbatch_error(make_slurm,
                                                                           tmp_path):
    config = tmp_path / "limits.toml"
    config.write_text("[policy.limits.job-size.max]\nncores = 1\n")
    slurm = make_slurm(config=config)
    result = slurm.run("sbatch", "-n", "2", "--wrap", "true", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("sbatch: error: Batch job submission failed: ")
    assert "ncores" in result.stderr and len(result.stderr.splitlines()) == 1
    result = slurm.run("sbatch", "-p", "nosuch", "--wrap", "true", check=False)
    assert result.stderr == ("sbatch: error: Batch job submission failed: invalid queue "
                             "'nosuch': no queues are configured\n")


def test_wait_returns_the_jobs_exit_code(slurm):
    result = slurm.run("sbatch", "-W", "--wrap", "exit 3", "-o", "/dev/null", check=False)
    assert result.returncode == 3
    assert result.stdout.startswith("Submitted batch job ")


def test_hold_keeps_the_job_pending_until_released(slurm):
    job_id = slurm.sbatch("-H", "-t", "1-2:3:4", "--wrap", "true", "-o", "/dev/null")
    row = slurm.run("squeue", "-h", "-j", job_id, "-o", "%t %r %l").stdout
    assert row == "PD JobHeldUser 1-02:03:04\n"
    slurm.run("scontrol", "release", job_id)
    slurm.wait(job_id)
    assert slurm.run("squeue", "-h", "-j", job_id, "-o", "%t").stdout == "CD\n"


def test_begin_time_shows_as_the_reason_until_it_comes(slurm):
    job_id = slurm.sbatch("--begin=now+600", "--wrap", "true", "-o", "/dev/null")
    assert slurm.run("squeue", "-h", "-j", job_id, "-o", "%t %r").stdout == "PD BeginTime\n"
    slurm.run("scancel", job_id)


def test_signal_before_the_time_limit_reaches_the_batch_script(slurm):
    script = ("#!/bin/bash\ntrap 'echo got USR1; exit 0' USR1\n"
              "for i in $(seq 100); do sleep 0.1; done\necho no signal\n")
    slurm.script("trap.sh", script)
    job_id = slurm.sbatch("-t", "1", "--signal=B:USR1@59", "-o", "trap.out", "trap.sh")
    slurm.wait(job_id)
    assert slurm.read("trap.out") == "got USR1\n"


def test_signal_without_b_reaches_the_steps_and_not_the_batch_shell(slurm):
    script = ("#!/bin/bash\ntrap 'echo shell got USR1' USR1\n"
              "srun sh -c \"trap 'echo step got USR1; exit 0' USR1; sleep 20 & wait\"\n"
              "echo shell done\n")
    slurm.script("steps.sh", script)
    job_id = slurm.sbatch("-t", "1", "--signal=USR1@57", "-o", "steps.out", "steps.sh")
    slurm.wait(job_id)
    assert slurm.read("steps.out") == "step got USR1\nshell done\n"
    task = slurm.run("srun", "-t", "1", "--signal=USR1@59", "sh", "-c",
                     "trap 'echo task got USR1; exit 0' USR1; sleep 20 & wait")
    assert task.stdout == "task got USR1\n"


def test_open_mode_append_keeps_what_the_files_held(slurm):
    slurm.script("log.out", "before\n")
    script = slurm.script("append.sh", "#!/bin/sh\n#SBATCH --open-mode=append\n"
                          "#SBATCH -o log.out\n#SBATCH --wckey=anything\necho batch\n"
                          "srun -u --open-mode=a -o log.out echo step\n")
    slurm.wait(slurm.sbatch(script))
    assert slurm.read("log.out") == "before\nbatch\nstep\n"
    slurm.wait(slurm.sbatch("--open-mode=truncate", "-o", "log.out", "--wrap", "echo new"))
    assert slurm.read("log.out") == "new\n"
    refused = slurm.run("sbatch", "--open-mode=sideways", "--wrap", "true", check=False)
    assert (refused.returncode, refused.stderr) == (
        1, "sbatch: error: invalid --open-mode specification 'sideways'\n")


def test_memory_takes_slurms_units_with_or_without_a_b(slurm):
    # Recorded and shown as Slurm shows a request: in the largest unit that holds it whole.
    ids = []
    for option in ("--mem=1GB", "--mem=512m", "--mem=2t", "--mem=1536", "--mem-per-cpu=2048K"):
        ids.append(slurm.sbatch(option, "--wrap", "true", "-o", "/dev/null"))
        slurm.wait(ids[-1])
    ids.append(slurm.sbatch("--wrap", "true", "-o", "/dev/null"))
    slurm.wait(ids[-1])
    shown = ["1G", "512M", "2T", "1536M", "2M", "0"]
    listed = slurm.run("sacct", "-X", "-n", "-P", "-o", "JobID,ReqMem", "-j",
                       ",".join(map(str, ids)))
    assert listed.stdout.splitlines() == [f"{job}|{mem}"
                                          for job, mem in zip(ids, shown, strict=True)]
    held = slurm.sbatch("--hold", "--mem=3G", "--wrap", "true", "-o", "/dev/null")
    assert slurm.run("squeue", "-h", "-j", held, "-o", "%m").stdout == "3G\n"
    assert slurm.run("squeue", "-h", "-j", held, "-O", "MinMemory").stdout.rstrip() == "3G"
    slurm.run("scancel", held)
    refused = slurm.run("sbatch", "--mem=1GiB", "--wrap", "true", check=False)
    assert (refused.returncode, refused.stderr) == (
        1, "sbatch: error: invalid --mem specification '1GiB'\n")


def test_requeue_options_and_accounting_fields_are_kept(slurm):
    job_id = slurm.sbatch("-A", "physics", "--qos", "high", "--comment", "c", "--no-requeue",
                          "--wrap", "true", "-o", "/dev/null")
    slurm.wait(job_id)
    with slurm.instance.client() as client:
        system = client.job_info(job_id, "jobspec")["jobspec"]["attributes"]["system"]
    assert (system["account"], system["qos"], system["comment"], system["requeue"]) == \
        ("physics", "high", "c", False)
    assert slurm.run("sacct", "-j", job_id, "-X", "-n", "-P", "-o", "Account").stdout == \
        "physics\n"


def test_array_tasks_are_jobs_with_the_array_variables(slurm):
    script = ("#!/bin/sh\n#SBATCH --array=1-5:2\n#SBATCH -o arr-%A_%a.out\n"
              "echo $SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT "
              "$SLURM_ARRAY_TASK_MIN $SLURM_ARRAY_TASK_MAX\n"
              "srun -o step-%A_%a.out sh -c 'echo $SLURM_ARRAY_TASK_ID'\n")
    slurm.script("array.sh", script)
    first = slurm.sbatch("array.sh")
    rows = slurm.run("squeue", "-h", "-r", "-t", "all", "-o", "%i %F %K", "-j",
                     first).stdout.splitlines()
    assert sorted(rows) == [f"{first}_{task} {first} {task}" for task in (1, 3, 5)]
    for task in (1, 3, 5):
        for name in (f"arr-{first}_{task}.out", f"step-{first}_{task}.out"):
            deadline = time.time() + 20
            while time.time() < deadline:
                try:
                    if slurm.read(name):
                        break
                except FileNotFoundError:
                    pass
                time.sleep(0.1)
        assert slurm.read(f"arr-{first}_{task}.out") == f"{first} {task} 3 1 5\n"
        assert slurm.read(f"step-{first}_{task}.out") == f"{task}\n"  # a step's %A and %a


def test_jobs_that_fail_at_once_keep_their_array_and_batch_details(slurm):
    # Too many nodes for the instance: every task fails as soon as it is scheduled, before
    # a request sent after its submit could reach it; the details go with the submit.
    first = slurm.sbatch("--array=1-3", "-N", "5", "-o", "/dev/null", "--wrap", "true")
    for job_id in range(first, first + 3):
        slurm.wait(job_id)
    rows = slurm.run("sacct", "-X", "-n", "-P", "-o", "jobid,state", "-j",
                     first).stdout.splitlines()
    assert [row.split("|")[0] for row in rows] == [f"{first}_{task}" for task in (1, 2, 3)]
    alone = slurm.sbatch("-N", "5", "--wrap", "true")
    slurm.wait(alone)
    shown = slurm.run("scontrol", "show", "job", alone).stdout
    assert "BatchFlag=1" in shown and f"WorkDir={slurm.work_dir}" in shown, shown


def test_an_empty_array_specification_is_refused_and_submits_nothing(slurm):
    result = slurm.run("sbatch", "--array=", "--wrap", "true", check=False)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("sbatch: error: invalid --array specification ''")
    with slurm.instance.client() as client:
        assert client.jobs(states=127) == []


def test_array_throttle_runs_one_task_at_a_time(slurm):
    first = slurm.sbatch("--array=0-2%1", "--wrap", "sleep 0.3", "-o", "/dev/null")
    ids = [first, first + 1, first + 2]
    spans = []
    with slurm.instance.client() as client:
        for job_id in ids:
            client.wait_event(job_id, "clean", 30)
            stamps = {event["name"]: event["timestamp"] for event in client.eventlog(job_id)}
            spans.append((stamps["start"], stamps["finish"]))
    spans.sort()
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))


def test_a_task_waiting_for_its_array_throttle_alone_is_job_array_task_limit(slurm):
    held = slurm.sbatch("-H", "--wrap", "true", "-o", "/dev/null")
    first = slurm.sbatch("--array=1-2%1", "--wrap", "sleep 30", "-o", "/dev/null")
    also = slurm.sbatch("--array=1-2%1", "-d", f"afterany:{held}", "--wrap", "true",
                        "-o", "/dev/null")
    with slurm.instance.client() as client:
        client.wait_event(first, "start", 10)
    rows = slurm.run("squeue", "-h", "-r", "-o", "%i %r").stdout.splitlines()
    assert sorted(rows) == sorted([f"{held} JobHeldUser", f"{first}_1 None",
                                   f"{first}_2 JobArrayTaskLimit", f"{also}_1 Dependency",
                                   f"{also}_2 Dependency"])
    slurm.run("scancel", held, first, also)


def test_dependencies_from_slurms_documentation(slurm):
    first = slurm.sbatch("--wrap", "sleep 3", "-o", "/dev/null")
    after_ok = slurm.sbatch("-d", f"afterok:{first}", "--wrap", "true", "-o", "/dev/null")
    not_ok = slurm.sbatch(f"--dependency=afternotok:{first}", "--wrap", "true",
                          "-o", "/dev/null")
    assert slurm.run("squeue", "-h", "-j", after_ok, "-o", "%t %r").stdout == "PD Dependency\n"
    slurm.wait(not_ok)
    slurm.wait(after_ok)
    assert slurm.run("squeue", "-h", "-j", f"{after_ok},{not_ok}", "-o",
                     "%i %t %r").stdout.splitlines() == [
        f"{after_ok} CD None", f"{not_ok} CA DependencyNeverSatisfied"]
    singleton = [slurm.sbatch("-J", "one", "-d", "singleton", "--wrap", "sleep 0.3",
                              "-o", "/dev/null") for _ in range(2)]
    for job_id in singleton:
        slurm.wait(job_id)


def test_nodes_and_tasks_per_node_give_slurms_layout_variables(make_slurm):
    slurm = make_slurm(test_size=2)
    job_id = slurm.sbatch("-N", "2", "--ntasks-per-node=2", "-o", "layout.out", "--wrap",
                          "env | grep -E '^SLURMD?_' | sort")
    slurm.wait(job_id)
    env = _env(slurm.read("layout.out"))
    assert env["SLURM_JOB_NODELIST"] == "node[0-1]"
    assert env["SLURM_NNODES"] == "2" and env["SLURM_NTASKS"] == "4"
    assert env["SLURM_TASKS_PER_NODE"] == "2(x2)"
    assert env["SLURMD_NODENAME"] == "node0"
    tasks = slurm.run("srun", "-N", "2", "-n", "3", "sh", "-c",
                      "echo $SLURM_PROCID $SLURM_NODEID $SLURM_LOCALID $SLURMD_NODENAME "
                      "$SLURM_TASKS_PER_NODE").stdout.splitlines()
    assert sorted(tasks) == ["0 0 0 node0 2,1", "1 0 1 node0 2,1", "2 1 0 node1 2,1"]


def test_export_none_and_lists_choose_the_environment(slurm):
    env = {"KEEP_ME": "1", "DROP_ME": "2"}
    slurm.run("sbatch", "--export=NONE", "-o", "none.out", "--wrap",
              "echo ${KEEP_ME:-unset} ${DROP_ME:-unset} $SLURM_JOB_NAME", env=env)
    slurm.run("sbatch", "--export=KEEP_ME,EXTRA=3", "-o", "list.out", "--wrap",
              "echo ${KEEP_ME:-unset} ${DROP_ME:-unset} $EXTRA", env=env)
    slurm.run("sbatch", "-o", "all.out", "-e", "all.err", "--wrap",
              "echo ${KEEP_ME:-unset} ${DROP_ME:-unset}; echo e >&2", env=env)
    with slurm.instance.client() as client:
        for job in client.jobs(userid=-1):
            client.wait_event(job["id"], "clean", 30)
    assert slurm.read("none.out") == "unset unset wrap\n"
    assert slurm.read("list.out") == "1 unset 3\n"
    assert (slurm.read("all.out"), slurm.read("all.err")) == ("1 2\n", "e\n")
    nameless = slurm.run("sbatch", "--export=ALL,=x", "--wrap", "true", check=False)
    assert (nameless.returncode, nameless.stderr) == (
        1, "sbatch: error: invalid --export specification '=x': a variable needs a name\n")


def test_any_of_a_question_mark_list_releases_the_job(slurm):
    failing = slurm.sbatch("--wrap", "sleep 0.5; exit 1", "-o", "/dev/null")
    passing = slurm.sbatch("--wrap", "sleep 1", "-o", "/dev/null")
    either = slurm.sbatch("-d", f"afterok:{failing}?afterok:{passing}", "--wrap", "true",
                          "-o", "/dev/null")
    neither = slurm.sbatch("-d", f"afterok:{failing}?afternotok:{passing}", "--wrap", "true",
                           "-o", "/dev/null")
    assert slurm.run("squeue", "-h", "-j", either, "-o", "%t %r").stdout == "PD Dependency\n"
    slurm.wait(either)
    slurm.wait(neither)
    assert slurm.run("squeue", "-h", "-j", f"{either},{neither}", "-o",
                     "%i %t %r").stdout.splitlines() == [
        f"{either} CD None", f"{neither} CA DependencyNeverSatisfied"]
    array = slurm.sbatch("--array=1-2", "--wrap", "true", "-o", "/dev/null")
    result = slurm.run("sbatch", "-d", f"afterok:{array}?afterok:{passing}", "--wrap", "true",
                       check=False)
    assert (result.returncode, result.stderr) == (
        1, f"sbatch: error: --dependency: {array} is an array of 2 tasks; in a '?' list name "
           f"one of them ({array}_N)\n")
    slurm.wait(slurm.sbatch("-d", f"afterany:{array}_2?afterok:{failing}", "--wrap", "true",
                            "-o", "/dev/null"))


def test_a_dependency_on_an_array_waits_for_every_task(slurm):
    first = slurm.sbatch("--array=1-2", "--wrap", "sleep 0.5")
    after = slurm.sbatch("-d", f"afterany:{first}", "--wrap", "true", "-o", "/dev/null")
    with slurm.instance.client() as client:
        spec = client.job_info(after, "jobspec")["jobspec"]
    targets = sorted(int(item["value"]) for item in spec["attributes"]["system"]["dependencies"])
    assert targets == [first, first + 1]
    slurm.wait(after)
    for task in (1, 2):
        assert slurm.read(f"slurm-{first}_{task}.out") == ""


def test_ctrl_c_while_an_array_is_submitted_leaves_no_task_of_it(slurm):
    """Slurm submits an array in one request, whole or not at all; corral sends a throttled
    array in waves, so a Ctrl-C between them cancels the tasks already submitted."""
    terminal = Terminal(slurm.instance, "--array=0-999%5", "--wrap", "sleep 100",
                        "-o", "/dev/null", program=os.path.join(slurm.bin_dir, "sbatch"))
    try:
        terminal.read_until_match(r"sbatch \[[=> ]*\] [1-9]\d*/1000 tasks")
        terminal.type(b"\x03")
        status = terminal.exit_status()
    finally:
        terminal.close()
    shown = terminal.output.decode(errors="replace")
    assert status == 1, shown
    assert "Submitted batch job" not in shown
    with slurm.instance.client() as client:
        jobs = client.jobs(states=127)
        submitted = len(jobs)
        assert 0 < submitted < 1000
        assert (f"sbatch: error: Batch job submission interrupted: the {submitted} array tasks "
                "already submitted were cancelled") in shown
        for job in jobs:
            slurm.wait(job["id"])
            notes = [event["context"]["note"] for event in client.eventlog(job["id"])
                     if event["name"] == "exception"]
            assert notes == ["sbatch interrupted"]


def test_a_node_count_range_runs_on_its_minimum_and_a_reversed_one_is_refused(slurm):
    job_id = slurm.sbatch("-N", "1-2", "--wrap", "true", "-o", "/dev/null")
    slurm.wait(job_id)
    assert slurm.run("sacct", "-X", "-n", "-P", "-o", "NNodes", "-j", job_id).stdout == "1\n"
    for text, why in (("2-1", ": the maximum node count is less than the minimum"),
                      ("1-0", ": the maximum node count is less than the minimum"),
                      ("1-x", "")):
        refused = slurm.run("sbatch", "-N", text, "--wrap", "true", check=False)
        assert (refused.returncode, refused.stderr) == (
            1, f"sbatch: error: invalid --nodes argument '{text}'{why}\n")
