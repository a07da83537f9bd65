"""The 9-job trace, whose FCFS and EASY schedules are worked out by hand below."""

import subprocess
import sys

from sim_helpers import DATA

CQSIM = "cqsim-test.swf"


def test_fcfs_start_times_match_the_hand_computation(corral_sim):
    """100 cores.  Jobs (number: submit, run, cores, requested time):
    1: 0, 4000, 40, 4000     2: 1000, 2000, 80, 2000   3: 2000, 1000, 90, 1000
    4: 3000, 5000, 20, 5000  5: 4000, 3000, 60, 3000   6: 5000, 3000, 50, 3000
    7: 6000, 2000, 50, 3000  8: 8000, 1000, 50, 5000   9: 8000, 5000, 10, 5000

    t=0     1 starts (60 free until 4000).
    t=1000  2 needs 80 > 60: waits; 3..9 queue behind it as they come.
    t=4000  1 ends: 2 starts (20 free); 3 needs 90: waits.
    t=6000  2 ends (100 free): 3 starts (10 free).
    t=7000  3 ends: 4 (20) and 5 (60) start (20 free); 6 needs 50: waits.
    t=10000 5 ends (80 free): 6 starts (30 free); 7 needs 50: waits.
    t=12000 4 ends (50 free): 7 starts (0 free).
    t=13000 6 ends (50 free): 8 starts (0 free).
    t=14000 7 and 8 end: 9 starts.
    """
    summary, starts = corral_sim(CQSIM, "--cores", "100", "--queue-policy", "fcfs")
    assert starts == {1: 0, 2: 4000, 3: 6000, 4: 7000, 5: 7000, 6: 10000, 7: 12000,
                      8: 13000, 9: 14000}
    assert summary["jobs"] == 9 and summary["skipped"] == 0
    assert summary["makespan"] == 19000


def test_easy_start_times_match_the_hand_computation(corral_sim):
    """The same jobs with EASY backfilling; reservations use requested times.

    t=0     1 starts (60 free; its limit ends at 4000).
    t=1000  2 (80) does not fit: reserved at 4000, when 1 ends (100 free, 20 spare).
    t=2000  3 (90) does not fit now (60 free) and is not first: no reservation.
    t=3000  4 (20 cores, limit 5000 -> ends 8000, past 4000): fits now and within
            the 20 spare at 4000: backfilled at 3000.
    t=4000  1 ends: 2 starts (0 free).  3 is first: 2 ends at 6000 (80 free), 4 at 8000
            (100 free): 3 reserved at 8000 with 10 spare; 5 arrives.
    t=6000  2 ends (80 free).  5, 6, 7 would end at 9000, past 8000, and need more than
            the 10 spare: none starts.
    t=8000  4 ends: 3 starts (10 free).  8 and 9 arrive.  5 (60) is first: reserved at
            9000, when 3 ends (100 free, 40 spare).  9 (10 cores, ends 13000) fits now and
            within the spare: backfilled at 8000.
    t=9000  3 ends: 5 starts (30 free).  6 (50) is first: at 12000 5 ends (90 free with
            9 still running, 40 spare); 7 and 8 need 50 > 30 now.
    t=12000 5 ends: 6 starts (40 free).  7 is first: at 13000 9 ends (50 free).
    t=13000 9 ends: 7 starts (0 free).  8: reserved at 15000, when 6's limit ends.
    t=15000 6 ends at its limit and 7 after its 2000 s run: 8 starts.
    """
    summary, starts = corral_sim(CQSIM, "--cores", "100", "--queue-policy", "easy")
    assert starts == {1: 0, 2: 4000, 3: 8000, 4: 3000, 5: 9000, 6: 12000, 7: 13000,
                      8: 15000, 9: 8000}
    assert summary["makespan"] == 16000


def test_kill_at_limit_ends_a_job_at_its_requested_time(corral_sim, tmp_path):
    """Job 1 runs 500 s but asked for 100: by default it runs its 500 s, with
    --kill-at-limit it ends at 100 and job 2 starts then; job 3 (run time -1) is skipped."""
    source = (tmp_path / "long.swf")
    source.write_text("1 0 -1 500 4 -1 -1 4 100 -1 1 1 1 -1 -1 -1 -1 -1\n"
                      "2 0 -1 50 4 -1 -1 4 100 -1 1 1 1 -1 -1 -1 -1 -1\n"
                      "3 0 -1 -1 4 -1 -1 4 100 -1 1 1 1 -1 -1 -1 -1 -1\n")
    full, _ = corral_sim(str(source), "--cores", "4")
    killed, _ = corral_sim(str(source), "--cores", "4", "--kill-at-limit")
    assert full["skipped"] == killed["skipped"] == 1
    assert full["makespan"] == 550
    assert killed["makespan"] == 150


def test_plot_writes_one_png_per_view_and_a_comparison(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "corral", "sim", f"{DATA}/{CQSIM}", "--cores", "100",
         "--queue-policy", "fcfs", "--queue-policy", "easy", "--plot", str(tmp_path)],
        capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    for name in ("queue_and_utilization.png", "wait_distribution.png",
                 "policy_comparison.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_trace_line_is_one_sentence_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.swf"
    bad.write_text("1 0 -1 10 4\n")
    completed = subprocess.run([sys.executable, "-m", "corral", "sim", str(bad)],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 1
    assert completed.stderr == (f"corral sim: {bad}:1: an SWF record has 18 fields, this one "
                                f"has 5\n")


def test_a_time_that_is_not_finite_is_one_sentence_naming_file_and_line(tmp_path):
    bad = tmp_path / "nan.swf"
    bad.write_text("1 0 -1 10 4 -1 -1 4 -1 -1 1 -1 -1 -1 0 -1 -1 -1\n"
                   "2 0 -1 nan 4 -1 -1 4 inf -1 1 -1 -1 -1 0 -1 -1 -1\n")
    completed = subprocess.run([sys.executable, "-m", "corral", "sim", str(bad), "--cores",
                                "8"], capture_output=True, text=True, timeout=60)
    assert (completed.returncode, completed.stdout, completed.stderr) == (
        1, "", f"corral sim: {bad}:2: fields 2, 4 and 9 (submit, run and requested time) "
               f"must be finite numbers\n")
