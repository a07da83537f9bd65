"""``corral sim``: replay a Standard Workload Format trace through corral on a virtual clock.

The real job manager, scheduler, store and jobtap plugins run; time is simulated and so is
execution (see `corral.sim`).  The trace comes back with its wait and run times (fields 3 and
4) as corral scheduled it, with a summary; ``--plot`` draws it.
"""

import json
import logging
import sys

from .. import config as config_module
from .. import logs
from ..sim import metrics, swf
from ..sim.clock import SimulationStalled
from ..sim.machine import SimulationError
from ..sim.replay import Replay

POLICY_NAMES = ("fcfs", "easy", "conservative")


def register(subparsers):
    parser = subparsers.add_parser("sim", connects=False,
                                   help="replay an SWF trace on a virtual clock")
    parser.add_argument("trace", metavar="TRACE.swf")
    machine = parser.add_mutually_exclusive_group()
    machine.add_argument("--cores", type=int, metavar="P",
                         help="one node of P cores (default: the trace's MaxProcs)")
    machine.add_argument("--nodes", type=int, metavar="N", help="N nodes (with --cores-per-node)")
    parser.add_argument("--cores-per-node", type=int, metavar="C")
    parser.add_argument("--queue-policy", action="append", choices=POLICY_NAMES,
                        help="the policy of every queue; repeat to compare several")
    parser.add_argument("--config", metavar="FILE", help="instance configuration (TOML)")
    parser.add_argument("--jobtap", action="append", default=[], metavar="PLUGIN",
                        help="load this jobtap plugin (repeatable)")
    parser.add_argument("--prep", action="append", default=[], metavar="PLUGIN",
                        help="load this PrEp plugin, in order (repeatable; instead of "
                             "[prep] plugins)")
    parser.add_argument("--kill-at-limit", action="store_true",
                        help="end a job at its requested time (default: it runs its run time)")
    parser.add_argument("--trace-users", action="store_true",
                        help="submit each job as its trace's user (field 12) instead of the "
                             "instance owner")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the trace with wait and run times ('-': stdout)")
    parser.add_argument("--plot", metavar="DIR", help="write PNG plots into DIR")
    parser.add_argument("--verbose", "-v", action="count", default=0,
                        help="log information and tracebacks (-vv: debug)")
    parser.set_defaults(func=main)


def _fail(text):
    print(f"corral sim: {text}", file=sys.stderr)
    return 1


def _machine(args, trace) -> tuple[int, int] | str:
    """``(nodes, cores per node)``, or why the options do not say."""
    if args.nodes is not None:
        if args.cores_per_node is None:
            return "--nodes needs --cores-per-node"
        if args.nodes < 1 or args.cores_per_node < 1:
            return "--nodes and --cores-per-node must be positive"
        return args.nodes, args.cores_per_node
    if args.cores_per_node is not None:
        return "--cores-per-node needs --nodes"
    cores = args.cores
    if cores is None:
        for line in trace.header:
            key, _, value = line.lstrip(";").partition(":")
            if key.strip() == "MaxProcs" and value.strip().isdecimal():
                cores = int(value)
        if cores is None:
            return "the trace has no MaxProcs header: give --cores or --nodes"
    if cores < 1:
        return "--cores must be positive"
    return 1, cores


def main(args):
    # As corral start logs: a plugin's failure is one line (per job it fails for), its
    # traceback only with -v.
    logs.to_stderr(logging.WARNING - 10 * min(args.verbose, 2), tracebacks=args.verbose > 0)
    try:
        config = config_module.load(args.config)
        trace = swf.read(args.trace)
    except (config_module.ConfigError, swf.TraceError) as exc:
        return _fail(str(exc))
    machine = _machine(args, trace)
    if isinstance(machine, str):
        return _fail(machine)
    nodes, cores_per_node = machine
    policies = args.queue_policy or [None]
    runs = {}
    for policy in policies:
        run_trace = trace if len(policies) == 1 else swf.read(args.trace)
        replay = Replay(run_trace, config, nodes, cores_per_node, policy, args.jobtap,
                        args.kill_at_limit, args.prep, args.trace_users)
        try:
            replay.run()
        except (SimulationError, SimulationStalled, config_module.ConfigError) as exc:
            return _fail(str(exc))
        summary = metrics.summary(run_trace, nodes * cores_per_node, replay.rejected,
                                  replay.wall_seconds)
        runs[policy or config.get_str("sched.queue-policy", "fcfs")] = (run_trace, summary)
    if args.output:
        for label, (run_trace, _summary) in runs.items():
            path = args.output if len(runs) == 1 or args.output == "-" else (
                f"{args.output}.{label}")
            if path == "-":
                swf.write(run_trace, sys.stdout)
                continue
            try:
                with open(path, "w") as stream:
                    swf.write(run_trace, stream)
            except OSError as exc:
                return _fail(f"{path}: {exc.strerror}")
    if args.plot:
        try:
            from ..sim import plots

            plots.write(args.plot, runs, nodes * cores_per_node)
        except ImportError:
            return _fail("--plot needs matplotlib (pip install 'corral[sim]')")
        except OSError as exc:
            return _fail(f"{args.plot}: {exc.strerror}")
    summaries = {label: summary for label, (_trace, summary) in runs.items()}
    if args.json:
        print(json.dumps(next(iter(summaries.values())) if len(summaries) == 1 else summaries))
    else:
        stream = sys.stderr if args.output == "-" else sys.stdout
        for label, summary in summaries.items():
            print(f"{label}: " + ", ".join(f"{key} {_text(value)}"
                                          for key, value in summary.items()), file=stream)
    return 0


def _text(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
