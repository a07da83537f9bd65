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
