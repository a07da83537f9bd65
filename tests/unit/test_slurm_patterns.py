"""``%`` filename patterns (corral.slurm.patterns)."""

from corral.slurm import patterns

VALUES = {"j": "12", "J": "12", "A": "10", "a": "7", "x": "job", "u": "alice", "N": "node0",
          "n": "0", "t": "3", "s": "batch"}


def test_each_letter_and_percent():
    assert patterns.expand("%x-%j.%u.%N.%n.%t.%s.out", VALUES) == \
        "job-12.alice.node0.0.3.batch.out"
    assert patterns.expand("slurm-%A_%a.out", VALUES) == "slurm-10_7.out"
    assert patterns.expand("100%%-%j", VALUES) == "100%-12"


def test_width_pads_with_zeros_and_backslash_disables_patterns():
    assert patterns.expand("task-%4a", VALUES) == "task-0007"
    assert patterns.expand("lit\\%j", VALUES) == "lit%j"


def test_a_file_per_task_is_one_that_names_the_task():
    assert patterns.per_task("log-%t.out") and patterns.per_task("%j_%3t.log")
    assert not patterns.per_task("log-%%t.out")  # a percent sign, then a t
    assert not patterns.per_task("log-%j.out") and not patterns.per_task("lit\\%t")
