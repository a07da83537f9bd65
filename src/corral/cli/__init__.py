"""The ``corral`` command: one module per command group, each a thin layer over the client.

Only the module of the command being run is imported (a short command should not pay for
the others).  Every failure a user can cause ends in one line on stderr
(``corral submit: ...``) and a non-zero exit status, never a traceback.
"""

import argparse
import importlib
import sys

from ..client import RPCError

#: command -> the module (in this package) that registers it.
COMMANDS = {
    "start": "start",
    "submit": "submit",
    "run": "run",
    "jobs": "jobs",
    "cancel": "cancel",
    "job": "job",
    "jobtap": "jobtap",
    "prep": "prep",
    "queue": "queue",
    "resource": "resource",
    "share": "share",
    "rpc": "rpc",
    "keygen": "keygen",
    "sim": "sim",
    "agent": "agent",
    "dmesg": "rpc",
    "shutdown": "rpc",
    "slurm": "slurm",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="corral", description="corral workload manager")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = [COMMANDS[command]] if command in COMMANDS else dict.fromkeys(COMMANDS.values())
    for name in modules:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except RPCError as exc:
        print(f"corral {args.command}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except UnicodeError:
        # Arguments that are not UTF-8 reach Python as lone surrogates, which cannot be sent.
        print(f"corral {args.command}: an argument is not valid UTF-8 text", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # the connection failed under a request (the instance went away)
        print(f"corral {args.command}: {exc.strerror or exc}", file=sys.stderr)
        return 1
