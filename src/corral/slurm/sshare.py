"""``sshare``: the fair-share plugin's associations in sshare's columns (`shares` renders
them, for ``corral share`` too).  Needs ``corral.plugins.fairshare`` loaded."""

from . import options, run, shares
from .options import Option

_OPTIONS = [
    Option("all", "a", takes_value=False), Option("accounts", "A"), Option("users", "u"),
    Option("long", "l", takes_value=False), Option("noheader", "n", takes_value=False),
    Option("parsable", "p", takes_value=False), Option("parsable2", "P", takes_value=False),
]


def _main(argv) -> int:
    values, rest = options.parse("sshare", argv, _OPTIONS)
    if rest:
        raise options.OptionError(f"unrecognized argument '{rest[0]}'")
    from ..client import connect

    with connect() as client:
        try:
            answer = shares.usage(client)
        except shares.NotLoaded as exc:
            raise ValueError(str(exc)) from None
    for line in shares.share_lines(answer, bool(values.get("long")), values.get("accounts"),
                                  values.get("users"), not values.get("noheader"),
                                  bool(values.get("parsable")), bool(values.get("parsable2"))):
        print(line)
    return 0


def main(argv) -> int:
    return run("sshare", _main, argv)
