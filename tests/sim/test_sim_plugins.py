"""Jobtap plugins run in the simulator as in an instance: a priority plugin reorders the
simulated queue."""

import os

PLUGINS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "plugins")


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
