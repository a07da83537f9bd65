"""The ``corral`` command: one module per command group, each a thin layer over the client.

Every failure a user can cause ends in one line on stderr (``corral submit: ...``) and a
non-zero exit status, never a traceback.
"""

import argparse
import sys

from ..client import RPCError
from ..config import ConfigError
from . import cancel, job, jobs, jobtap, queue, resource, rpc, run, start, submit

GROUPS = (start, submit, run, jobs, cancel, job, jobtap, queue, resource, rpc)


class CommandError(Exception):
    """A user-facing failure: the message is printed as is."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="corral", description="corral workload manager")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        group.register(subparsers)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (RPCError, ConfigError, CommandError) as exc:
        text = exc.strerror if isinstance(exc, RPCError) and exc.strerror else str(exc)
        print(f"corral {args.command}: {text}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
