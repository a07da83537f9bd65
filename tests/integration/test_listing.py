"""``corral jobs`` as Flux and Slurm users read it: state filters by either's names, format
errors in one line, Flux's time conversions, a pending reason for every pending job (the one
squeue gives), and the job's return code."""

import datetime
import os
import re
import subprocess
import sys

from support import until

SIMULATED = "--setattr=exec.test.run_duration=0"


def _listing(instance, fmt, *args):
    return instance.corral("jobs", "-n", "-o", fmt, *args).stdout.splitlines()


def test_filters_take_slurm_and_flux_names_in_any_case(instance):
    done = instance.submit(SIMULATED, "true")
    failed = instance.submit("false")
    instance.wait_inactive(done)
    instance.wait_inactive(failed)
    held = instance.submit("--urgency=hold", "true")
    for words, expected in (("PD", [held]), ("pd", [held]), ("PENDING", [held]),
                            ("CD", [done]), ("completed", [done]), ("F", [failed]),
                            ("FAILED", [failed]), ("CA,TO", []), ("R,CG", []),
                            ("PD,CD", [held, done]), ("sched,f", [held, failed])):
        shown = [int(line) for line in _listing(instance, "{id}", "-f", words)]
        assert shown == expected, words


def test_a_bad_filter_or_format_is_one_line_and_status_1(instance):
    instance.submit(SIMULATED, "true")
    for args, message in (
            (["-f", "PX"], "corral jobs: -f: unknown state or result 'PX'"),
            (["-o", "{id"], "corral jobs: -o: expected '}' before end of string"),
            (["-o", "{id!X}"], "corral jobs: -o: field 'id': unknown conversion '!X'"),
            (["-o", "{nosuch}"], "corral jobs: unknown format field 'nosuch'"),
            (["-a", "-o", "{id:xx}"], "corral jobs: -o: field 'id':"),
            (["-a", "-o", "{name:d}"], "corral jobs: -o: field 'name': Unknown format code 'd'")):
        result = instance.corral("jobs", *args, check=False)
        assert result.returncode == 1, args
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(message), (
            args, result.stderr)


def test_time_conversions_as_flux_jobs_documents_them(instance):
    job_id = instance.submit("sleep", "1.2")
    instance.wait_inactive(job_id)
    held = instance.submit("--urgency=hold", "true")
    job = instance.client().job(job_id)
    (line,) = _listing(instance, "{t_submit!D}|{t_run!d:%Y %H:%M:%S}|{runtime!H}|{runtime!F}",
                       str(job_id))
    submitted, started, hours, fsd = line.split("|")
    assert submitted == datetime.datetime.fromtimestamp(job["t_submit"]).strftime(
        "%Y-%m-%dT%H:%M:%S")
    assert started == datetime.datetime.fromtimestamp(job["t_run"]).strftime("%Y %H:%M:%S")
    assert hours == "0:00:01"
    assert re.fullmatch(r"1\.\d+s", fsd)
    # 'h' prints '-' for what is not there; !D of nothing is empty, as in Flux.
    assert _listing(instance, "{id}|{t_run!D:h}|{t_run!D}|{runtime!F:>6h}|{t_run!H}",
                    str(held)) == [f"{held}|-||     -|"]


def test_every_pending_job_has_a_reason_squeue_agrees_with(instance, tmp_path):
    running = instance.submit("-n2", "sleep", "60")
    instance.client().wait_event(running, "start", 20)
    first = instance.submit("true")
    second = instance.submit("true")
    held = instance.submit("--urgency=hold", "true")
    dependent = instance.submit(f"--dependency=afterok:{running}", "true")
    until(lambda: _reasons(instance)[first] == "Resources")
    reasons = _reasons(instance)
    assert reasons == {first: "Resources", second: "Priority", held: "JobHeldUser",
                       dependent: "Dependency", running: ""}
    assert "None" not in instance.corral("jobs").stdout
    default = {line.split()[0]: line for line in instance.corral("jobs").stdout.splitlines()}
    assert default[str(held)].endswith("(JobHeldUser)")
    assert default[str(running)].split()[-1] == instance.client().job(running)["nodelist"]
    slurm_path = instance.corral("slurm", "path").stdout.strip()
    squeue = subprocess.run(["squeue", "-h", "-o", "%i %r"], capture_output=True, text=True,
                            env=dict(instance.env(), PATH=f"{slurm_path}:{os.environ['PATH']}"),
                            check=True).stdout
    by_squeue = dict(line.split() for line in squeue.splitlines())
    assert {int(i): r for i, r in by_squeue.items() if int(i) != running} == {
        job: reason for job, reason in reasons.items() if job != running}
    instance.corral("queue", "stop")
    stopped = _reasons(instance)
    assert stopped[first] == stopped[second] == "PartitionDown"
    assert stopped[held] == "JobHeldUser"


def _reasons(instance) -> dict[int, str]:
    lines = _listing(instance, "{id}|{reason}")
    return {int(i): reason for i, reason in (line.split("|") for line in lines)}


def test_returncode_is_the_exit_code_or_128_plus_the_signal(instance):
    exited = instance.submit("sh", "-c", "exit 3")
    killed = instance.submit("sh", "-c", "kill -9 $$")
    instance.wait_inactive(exited)
    instance.wait_inactive(killed)
    lines = _listing(instance, "{id} {returncode} {waitstatus}", str(exited), str(killed))
    assert lines == [f"{exited} 3 768", f"{killed} 137 9"]
    assert subprocess.run([sys.executable, "-m", "corral", "run", "sh", "-c", "kill -9 $$"],
                          env=instance.env(), capture_output=True).returncode == 137
