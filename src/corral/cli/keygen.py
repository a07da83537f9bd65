"""``corral keygen DIR``: make the CURVE keys of the controller and of each node.

Thin over `corral.transport.keys`, which says what each file is and who may hold it.
"""

import socket
import sys


def register(subparsers):
    parser = subparsers.add_parser(
        "keygen", connects=False, help="make CURVE keys for the controller and its agents",
        description="Make the controller's CURVE key pair in DIR and one key pair per node in "
                    "DIR/agents (where missing: existing keys are kept). Copy to each node "
                    "DIR/controller.key and its own DIR/agents/NODE.key_secret only.",
    )
    parser.add_argument("directory", metavar="DIR", help="the key directory (made 0700)")
    parser.add_argument("--nodes", "-N", action="append", metavar="HOSTLIST",
                        help="nodes to make keys for, e.g. 'node[1-16]' (repeatable; "
                             "default: this machine's hostname)")
    parser.set_defaults(func=main)


def main(args) -> int:
    from .. import hostlist
    from ..transport import keys

    nodes = []
    try:
        for text in args.nodes or [socket.gethostname()]:
            nodes += hostlist.expand(text)
    except ValueError as exc:
        print(f"corral keygen: --nodes: {exc}", file=sys.stderr)
        return 1
    for node in nodes:
        problem = keys.check_node_name(node)
        if problem is not None:
            print(f"corral keygen: {problem}", file=sys.stderr)
            return 1
    try:
        made = keys.create(args.directory, nodes)
    except OSError as exc:
        print(f"corral keygen: {args.directory}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for path in made:
        print(path)
    return 0
