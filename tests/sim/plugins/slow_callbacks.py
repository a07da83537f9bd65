"""A jobtap plugin for the simulator's tests: job 1's ``job.new`` callback sleeps 300 ms (the
loop's thread stands still, as when other processes have the CPU), job 2's computes for
300 ms."""

import time


def _new(p, topic, args):
    if args["id"] == 1:
        time.sleep(0.3)
    elif args["id"] == 2:
        began = time.thread_time()
        while time.thread_time() - began < 0.3:
            pass


def plugin_init(p):
    p.add_handler("job.new", _new)
