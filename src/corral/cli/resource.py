"""``corral resource``: list nodes with their state, drain and undrain them."""

import time

from ..client import connect


def register(subparsers):
    parser = subparsers.add_parser("resource", help="list, drain and undrain nodes")
    commands = parser.add_subparsers(dest="resource_command", metavar="SUBCOMMAND",
                                     required=True)
    listing = commands.add_parser("list", help="nodes, free cores and drain reasons")
    listing.set_defaults(func=_list)
    drain = commands.add_parser("drain", help="take nodes out of service")
    drain.add_argument("targets", help="hostlist (node[0-1]) or ranks (0-1)")
    drain.add_argument("reason", nargs="*")
    drain.set_defaults(func=_drain)
    undrain = commands.add_parser("undrain", help="return drained nodes to service")
    undrain.add_argument("targets")
    undrain.set_defaults(func=_undrain)


def _list(args):
    with connect() as client:
        nodes = client.rpc("resource.list")["nodes"]
    print(f"{'RANK':>4} {'NODE':<12} {'STATE':<8} {'CORES':>11} {'GPUS':>9}  REASON")
    for node in nodes:
        state = "drained" if node["drained"] else "up"
        cores = f"{node['free_cores']}/{node['ncores']}"
        gpus = f"{node['free_gpus']}/{node['ngpus']}"
        reason = ""
        if node["drained"]:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(node["timestamp"]))
            reason = f"{node['reason'] or ''}  {stamp}".strip()
        print(f"{node['rank']:>4} {node['name']:<12} {state:<8} {cores:>11} {gpus:>9}  {reason}")


def _drain(args):
    with connect() as client:
        client.rpc("resource.drain", {"targets": args.targets, "reason": " ".join(args.reason)})


def _undrain(args):
    with connect() as client:
        client.rpc("resource.undrain", {"targets": args.targets})
