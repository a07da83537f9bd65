"""The simulator: workload traces replayed through corral's own job manager, scheduler, store
and jobtap plugins on a virtual clock, with execution simulated.

`swf` reads Standard Workload Format traces, `clock` is the event loop whose time jumps to
the next timer when nothing is ready, `machine` assembles the controller's parts without
sockets or node agents, `replay` submits the trace and collects what happened, `metrics` and
`plots` summarise it.
"""
