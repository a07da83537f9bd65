"""Progress bars of long commands: drawn on a terminal (stdout and stderr both ttys), never
when the output goes to a pipe or a file.  Each command is run on a real pseudo-terminal
against a real instance, and again with its output captured."""

import re

from corral import jobspec
from corral.cli.progress import Progress
from corral.states import State
from support import Terminal, as_guest, until

SIMULATED = "--setattr=exec.test.run_duration=0"


def finished(terminal) -> str:
    status = terminal.exit_status()
    shown = terminal.output.decode(errors="replace")
    assert status == 0, shown
    return shown


def test_bar_fits_the_terminal_and_counts():
    progress = Progress("submit", 200)
    progress.update(50)
    line = progress.render(60)
    assert line.startswith("submit [")
    assert "50/200 jobs  25%" in line
    assert len(line) <= 60
    filled = line[line.index("[") + 1:line.index("]")]
    assert 0 < filled.count("=") < len(filled) // 2
    assert progress.render(20).startswith("submit 50/200")  # too narrow for a bar


def test_no_bar_off_a_terminal(tmp_path):
    with open(tmp_path / "err", "w") as stream:
        with Progress("submit", 10, stream=stream) as progress:
            progress.update(10)
    assert (tmp_path / "err").read_text() == ""


def test_submit_cc_draws_a_bar_on_a_terminal_and_none_into_a_pipe(instance):
    terminal = Terminal(instance, "submit", "--cc", "1-300", SIMULATED, "true")
    try:
        shown = finished(terminal)
    finally:
        terminal.close()
    assert "submit [" in shown
    assert "300/300 jobs 100%" in shown
    ids = re.findall(r"^(\d+)\r?$", shown, re.MULTILINE)
    assert len(ids) == 300

    piped = instance.corral("submit", "--cc", "1-50", SIMULATED, "true")
    assert piped.stderr == ""
    assert len(piped.stdout.split()) == 50


def test_cancel_all_counts_slices_on_a_terminal(instance):
    instance.corral("submit", "--cc", "1-1200", "--urgency=hold", "true")
    with instance.client() as client:
        # The service behind the bar: a streaming raiseall answers after each slice.
        answers = list(client.stream("job-manager.raiseall", {
            "type": "cancel", "severity": 0, "states": int(State.PENDING | State.RUNNING),
            "dry_run": False, "userid": -1}))
        assert [a["count"] for a in answers] == [500, 1000, 1200]
        assert {a["total"] for a in answers} == {1200}
    instance.corral("submit", "--cc", "1-700", "--urgency=hold", "true")
    terminal = Terminal(instance, "cancel", "--all")
    try:
        shown = finished(terminal)
    finally:
        terminal.close()
    assert "cancel [" in shown
    assert "700/700 jobs 100%" in shown
    assert "corral cancel: canceled 700 jobs" in shown

    instance.corral("submit", "--cc", "1-20", "--urgency=hold", "true")
    piped = instance.corral("cancel", "--all")
    assert piped.stderr == "corral cancel: canceled 20 jobs\n"


def test_a_guest_streaming_cancel_all_cancels_only_their_own_jobs(guest_instance):
    instance = guest_instance()
    owners = instance.submit("--urgency=hold", "true")
    theirs = as_guest(instance.uri, lambda client: client.submit(
        jobspec.build(["true"], cwd="/tmp"), urgency=0))
    answers = as_guest(instance.uri, lambda client: list(client.stream(
        "job-manager.raiseall", {"type": "cancel", "severity": 0, "note": "",
                                 "states": int(State.PENDING | State.RUNNING)})))
    assert answers == [{"count": 1, "total": 1}]
    with instance.client() as client:
        assert client.wait_event(theirs, "clean", 20)
        assert client.job(owners)["state"] & int(State.PENDING)
        client.cancel(owners)


def test_queue_drain_counts_jobs_as_they_end(instance):
    instance.corral("queue", "stop")
    instance.corral("submit", "--cc", "1-40", SIMULATED, "true")
    terminal = Terminal(instance, "queue", "drain")
    try:
        terminal.read_until("0/40 jobs")
        instance.corral("queue", "start")
        shown = finished(terminal)
    finally:
        terminal.close()
    assert "drain [" in shown
    assert "40/40 jobs 100%" in shown

    instance.corral("submit", "--cc", "1-5", SIMULATED, "true")
    piped = instance.corral("queue", "drain")
    assert piped.stdout == piped.stderr == ""
    with instance.client() as client:
        assert client.rpc("job-list.job-stats")["job_states"]["inactive"] == 45


def test_job_purge_counts_on_a_terminal_and_checks_ids_first(instance):
    # More than one purge request's slice (2000), so the bar moves between requests.
    instance.corral("submit", "--cc", "1-2100", SIMULATED, "true")
    instance.corral("queue", "drain")
    bad = instance.corral("job", "purge", "--force", "1", "2", "99999", check=False)
    assert bad.returncode == 1
    assert bad.stderr.endswith(": unknown job id 99999\n") and bad.stderr.count("\n") == 1
    with instance.client() as client:
        assert client.rpc("job-list.job-stats")["job_states"]["inactive"] == 2100
    terminal = Terminal(instance, "job", "purge", "--force", "--num-limit=0",
                        "--batch", "2050")
    try:
        shown = finished(terminal)
    finally:
        terminal.close()
    assert "purge [" in shown
    assert "2050/2050 jobs 100%" in shown
    assert "purged 2050 jobs (50 more beyond --batch 2050)" in shown

    piped = instance.corral("job", "purge", "--force", "--num-limit=0", "--batch", "100")
    assert piped.stdout == "purged 50 jobs\n"
    assert piped.stderr == ""


def test_sbatch_array_counts_tasks_on_a_terminal(instance, tmp_path):
    terminal = Terminal(instance, "slurm", "sbatch", "--array=0-299", "--hold",
                        f"--chdir={tmp_path}", "--wrap", "true")
    try:
        shown = finished(terminal)
    finally:
        terminal.close()
    assert "sbatch [" in shown
    assert "300/300 tasks 100%" in shown
    first = int(re.search(r"Submitted batch job (\d+)", shown).group(1))
    with instance.client() as client:
        until(lambda: len(client.jobs(states=int(State.PENDING), userid=-1)) == 300)
        memo = client.job(first + 299)["annotations"]["user"]["slurm"]
        assert memo["array"] == [first, 299]

    piped = instance.corral("slurm", "sbatch", "--array=0-9", "--hold",
                            f"--chdir={tmp_path}", "--wrap", "true")
    assert piped.stderr == ""
    assert piped.stdout.startswith("Submitted batch job ")
