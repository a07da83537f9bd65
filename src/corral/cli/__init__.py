"""The ``corral`` command: one module per command group, each a thin layer over the client.

Only the module of the command being run is imported (a short command should not pay for
the others).  Every failure a user can cause ends in one line on stderr that names the
command (``corral job kill: ...``) and a non-zero exit status, never a traceback; a usage
error too, since argparse's usage block would hide the one line that matters.

Every command that talks to an instance takes ``--uri`` (after ``corral`` or after the
command's name); it is handed to the client as ``CORRAL_URI``, so commands that run others
(``corral slurm``) pass it on.
"""

import argparse
import difflib
import importlib
import os
import sys

from .. import __version__
from ..client import RPCError

#: command -> the module (in this package) that registers it.
COMMANDS = {
    "start": "start",
    "submit": "submit",
    "run": "run",
    "jobs": "jobs",
    "top": "top",
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
    "help": "help",
    "token": "token",
    "web": "web",
}

_URI_HELP = "the instance to talk to (default: CORRAL_URI, else the system instance)"


class CommandError(Exception):
    """A command cannot do what it was asked; ``str()`` is the reason, printed after the
    command's name."""


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line naming the command."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_defaults(command_name=self.prog)

    def add_subparsers(self, **kwargs):
        kwargs.setdefault("action", Commands)
        return super().add_subparsers(**kwargs)

    def error(self, message, hint=None):
        print(f"{self.prog}: {message} ({hint or f'see {self.prog} --help'})", file=sys.stderr)
        raise SystemExit(2)

    def _check_value(self, action, value):
        """A misspelt subcommand (``corral job atach``) or choice (``corral slurm squeu``)
        names the closest one, as a misspelt command does, instead of listing them all."""
        choices = action.choices
        if choices is not None and isinstance(value, str) and value not in choices:
            close = difflib.get_close_matches(value, [str(choice) for choice in choices], n=1)
            if isinstance(action, Commands):
                self.error(f"no subcommand '{value}'", f"did you mean {close[0]}?" if close
                           else f"{self.prog} --help lists them")
            if close:
                name = argparse._get_action_name(action)
                self.error(f"argument {name}: invalid choice: '{value}'",
                           f"did you mean {close[0]}?")
        super()._check_value(action, value)

    def unrecognized(self, words: list[str]):
        """Refuse ``words`` in one line; a misspelt option gets the one it is closest to."""
        hint = None
        for word in words:
            if word.startswith("-"):
                close = difflib.get_close_matches(word.split("=", 1)[0],
                                                  self._option_string_actions, n=1)
                if close:
                    hint = f"did you mean {close[0]}?"
                    break
        self.error(f"unrecognized arguments: {' '.join(words)}", hint)


class Commands(argparse._SubParsersAction):
    """Subcommands: each one's help line is also its ``--help`` description, and each that
    talks to an instance (all but those registered with ``connects=False``) takes
    ``--uri``."""

    def add_parser(self, name, connects=True, **kwargs):
        if "help" in kwargs and "description" not in kwargs:
            text = kwargs["help"]
            kwargs["description"] = text[:1].upper() + text[1:] + "."
        parser = super().add_parser(name, **kwargs)
        if connects:
            parser.add_argument("--uri", default=argparse.SUPPRESS, help=_URI_HELP)
        return parser

    def __call__(self, parser, namespace, values, option_string=None):
        """Refuse an unknown option in the command's own words (``corral jobs: unrecognized
        arguments: --formt``): argparse leaves it to the top parser, which would name
        ``corral`` and point at its help instead."""
        super().__call__(parser, namespace, values, option_string)
        unknown = getattr(namespace, argparse._UNRECOGNIZED_ARGS_ATTR, None)
        if unknown:
            self._name_parser_map[values[0]].unrecognized(unknown)


def command_words(words: list[str]) -> list[str]:
    """The command of a ``COMMAND...`` remainder: a leading ``--`` only ends the options
    (``corral run -- hostname``), as for ``flux run``."""
    return words[1:] if words[:1] == ["--"] else words


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = CommandParser(prog="corral", description="corral workload manager: run "
                           "'corral help' for its commands, 'corral help COMMAND' for one")
    parser.add_argument("--version", action="version", version=f"corral {__version__}")
    parser.add_argument("--uri", default=argparse.SUPPRESS, help=_URI_HELP)
    subparsers = parser.add_subparsers(dest="group", metavar="COMMAND", required=True)
    modules = [COMMANDS[command]] if command in COMMANDS else dict.fromkeys(COMMANDS.values())
    for name in modules:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def _split_global(argv: list[str]) -> tuple[list[str], str | None]:
    """The options before the command named in ``argv`` (``--uri X`` as one), and the
    command (``--`` when that comes first, which `_check_global` refuses)."""
    options = []
    words = iter(argv)
    for word in words:
        if not word.startswith("-") or word == "--":
            return options, word
        options.append(word)
        if word == "--uri":
            next(words, None)
    return options, None


def _check_global(parser: CommandParser, options: list[str], command: str | None):
    """Refuse a misspelt global option or command before argparse does: it would complain
    of a missing COMMAND (``corral --versoin``) or list every command."""
    unknown = [word for word in options
               if word.split("=", 1)[0] not in parser._option_string_actions]
    if unknown:
        parser.unrecognized(unknown)
    if command == "--":
        parser.error("'--' ends a command's options, so it comes after the command",
                     "as in corral run -- hostname")
    if command is not None and command not in COMMANDS:
        close = difflib.get_close_matches(command, COMMANDS, n=1)
        parser.error(f"no command '{command}'",
                     f"did you mean {close[0]}?" if close else "corral help lists them")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options, command = _split_global(argv)
    parser = build_parser(command)
    _check_global(parser, options, command)
    args = parser.parse_args(argv)
    if getattr(args, "uri", None):
        os.environ["CORRAL_URI"] = args.uri
    prefix = args.command_name
    try:
        return args.func(args) or 0
    except (CommandError, RPCError) as exc:
        print(f"{prefix}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        return 1
    except UnicodeError:
        # Arguments that are not UTF-8 reach Python as lone surrogates, which cannot be sent.
        print(f"{prefix}: an argument is not valid UTF-8 text", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # the connection failed under a request (the instance went away)
        print(f"{prefix}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a defect; the user still gets one line, not a traceback
        print(f"{prefix}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
