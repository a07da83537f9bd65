"""Plugins run in the simulator as in an instance: a priority plugin reorders the simulated
queue; PrEp plugins get their controller and node hooks, and a failing node prolog drains its
node."""

import json
import os
import subprocess
import sys

PLUGINS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "plugins")
PLUGINS_SIM = os.path.join(os.path.dirname(__file__), "plugins")


def test_a_priority_plugin_reorders_the_simulated_queue(corral_sim):
    _summary, default = corral_sim("cqsim-test.swf", "--cores", "100", "--queue-policy", "fcfs")
    _summary, inverted = corral_sim("cqsim-test.swf", "--cores", "100", "--queue-policy", "fcfs",
                                    "--jobtap", os.path.join(PLUGINS, "priority_invert.py"))
    assert default[9] == 14000
    # Latest first: at 8000 jobs 8 and 9 arrive ahead of 5, 6 and 7.
    assert inverted[9] < default[9]
    assert inverted[8] < default[8]
    assert inverted != default


def test_fair_share_reorders_two_users_on_the_virtual_clock(corral_sim, tmp_path):
    """User 1 fills the machine for an hour; then user 1 and, ten seconds later, user 2 each
    queue a job of the whole machine.  FCFS runs user 1's first; with the fair-share plugin,
    whose timer charges user 1's usage every (virtual) five minutes, user 2's runs first.  An
    hour and twenty minutes of trace take well under a second of wall time."""
    trace = tmp_path / "two_users.swf"
    trace.write_text("; MaxProcs: 10\n"
                     "1  0 -1 3600 10 -1 -1 10 3600 -1 1 1 1 -1 -1 -1 -1 -1\n"
                     "2 10 -1  600 10 -1 -1 10  600 -1 1 1 1 -1 -1 -1 -1 -1\n"
                     "3 20 -1  600 10 -1 -1 10  600 -1 1 2 2 -1 -1 -1 -1 -1\n")
    _summary, fcfs = corral_sim(str(trace), "--trace-users")
    assert fcfs == {1: 0, 2: 3600, 3: 4200}
    summary, shared = corral_sim(str(trace), "--trace-users",
                                 "--jobtap", "corral.plugins.fairshare")
    assert shared == {1: 0, 2: 4200, 3: 3600}
    assert summary["wall_seconds"] < 5


def _trace(path, count):
    """``count`` jobs of 10 processors, all submitted at 0, each running 100 s."""
    lines = [f"{number} 0 -1 100 10 -1 -1 10 100 -1 1 1 1 -1 -1 -1 -1 -1"
             for number in range(1, count + 1)]
    path.write_text("; MaxProcs: 20\n" + "\n".join(lines) + "\n")
    return str(path)


def test_prep_plugins_run_their_hooks_and_a_failing_node_prolog_drains_the_node(
        corral_sim, tmp_path):
    """Two nodes of 10 cores; node1's prolog fails, so node1 is drained and its job goes
    back to the queue (not held: nohold-on-prolog-fail): the six jobs run one at a time."""
    trace = _trace(tmp_path / "six.swf", 6)
    count = tmp_path / "calls.json"
    config = tmp_path / "corral.toml"
    config.write_text(f'[prep]\nparameters = "count={count}"\nnohold-on-prolog-fail = true\n')
    args = ("--nodes", "2", "--cores-per-node", "10", "--queue-policy", "fcfs")
    _summary, healthy = corral_sim(trace, *args)
    assert sorted(healthy.values()) == [0, 0, 100, 100, 200, 200]
    summary, sick = corral_sim(trace, *args, "--config", str(config),
                               "--prep", os.path.join(PLUGINS_SIM, "sick_node.py"))
    assert sorted(sick.values()) == [0, 100, 200, 300, 400, 500]
    assert summary["jobs"] == 6
    calls = json.loads(count.read_text())
    # Seven runs: one on node1 whose prolog failed, then six on node0.
    assert calls == {"prolog_slurmctld": 7, "epilog_slurmctld": 7, "prolog node1": 1,
                     "prolog node0": 6, "epilog node0": 6, "epilog node1": 1}


def test_a_simulation_refuses_prep_script_in_one_line(tmp_path):
    trace = _trace(tmp_path / "one.swf", 1)
    completed = subprocess.run(
        [sys.executable, "-m", "corral", "sim", trace, "--cores", "10", "--prep",
         "prep/script"], capture_output=True, text=True, timeout=60)
    assert (completed.returncode, completed.stdout, completed.stderr) == (
        1, "", "corral sim: prep/script runs scripts, and a simulation starts no process: "
               "name PrEp plugins written in Python\n")


def test_a_slow_callback_is_one_that_computes_not_one_the_machine_paused(tmp_path):
    """On a virtual clock nothing waits for the loop: a callback is timed by the CPU time it
    takes, so job 1's sleeping callback (what a loaded machine's pause looks like) is not
    reported, and job 2's computing one is, once."""
    trace = _trace(tmp_path / "three.swf", 3)
    completed = subprocess.run(
        [sys.executable, "-m", "corral", "sim", trace, "--cores", "20", "--json",
         "--jobtap", os.path.join(PLUGINS_SIM, "slow_callbacks.py")],
        capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["jobs"] == 3
    warnings = [line for line in completed.stderr.splitlines() if "held the event loop" in line]
    assert len(warnings) == 1, completed.stderr
    assert "slow_callbacks" in warnings[0] and "job.new" in warnings[0]


def test_a_failing_callback_is_one_line_per_job_its_traceback_only_with_v(tmp_path):
    trace = _trace(tmp_path / "two.swf", 2)
    command = [sys.executable, "-m", "corral", "sim", trace, "--cores", "20", "--json",
               "--jobtap", os.path.join(PLUGINS_SIM, "validate_raises.py")]
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert quiet.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout)["rejected"] == 2
    assert quiet.stderr.splitlines() == [
        "corral.jobtap: ERROR: jobtap: validate_raises.py: job.validate: callback raised "
        "RuntimeError: validate failed on purpose"] * 2
    verbose = subprocess.run(command + ["-v"], capture_output=True, text=True, timeout=60)
    assert verbose.stderr.count("Traceback (most recent call last):") == 2
