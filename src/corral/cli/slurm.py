"""``corral slurm``: ``path`` prints the directory of Slurm-compatible commands to put on
PATH; ``corral slurm NAME ARGS`` runs one of them (``corral slurm squeue -h``)."""

import importlib
import sys

from ..slurm.launchers import COMMANDS


def register(subparsers):
    parser = subparsers.add_parser(
        "slurm", help="Slurm-compatible commands (path: the directory to put on PATH)",
    )
    parser.add_argument("name", choices=("path", *COMMANDS), metavar="path|" + "|".join(COMMANDS))
    parser.add_argument("arguments", nargs="...")
    parser.set_defaults(func=main)


def main(args) -> int:
    if args.name == "path":
        from ..slurm.launchers import bin_dir

        try:
            print(bin_dir())
        except OSError as exc:
            print(f"corral slurm path: {exc.strerror or exc}", file=sys.stderr)
            return 1
        return 0
    return importlib.import_module(f"corral.slurm.{args.name}").main(args.arguments)
