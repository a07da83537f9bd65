"""``corral prep``: the PrEp plugins the instance loaded (``corral prep list``)."""

import json

from ..client import connect

#: Column names for the ``prep_p_required`` call types, in CallType order.
_CALL_TYPES = ("register_callbacks", "prolog", "epilog", "prolog_slurmctld", "epilog_slurmctld")


def register(subparsers):
    parser = subparsers.add_parser("prep", help="PrEp (prolog/epilog) plugins")
    commands = parser.add_subparsers(dest="prep_command", metavar="SUBCOMMAND", required=True)
    listing = commands.add_parser(
        "list", help="loaded plugins in call order, with type, version and required() answers")
    listing.add_argument("--json", action="store_true", help="the service's answer as JSON")
    listing.set_defaults(func=_list)


def _list(args):
    with connect() as client:
        answer = client.rpc("prep.list")
    if args.json:
        print(json.dumps(answer, separators=(",", ":")))
        return 0
    rows = [("NAME", "TYPE", "VERSION", "REQUIRED")]
    for plugin in answer["plugins"]:
        required = [name for name in _CALL_TYPES if plugin["required"].get(name.upper())]
        version = plugin["plugin_version"]
        rows.append((plugin["name"], plugin["plugin_type"],
                     "-" if version is None else str(version), ",".join(required) or "-"))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [row[column].ljust(widths[column]) for column in range(3)]
        print("  ".join([*cells, row[3]]))
    if answer.get("flags"):
        print(f"flags: {','.join(answer['flags'])}")
    return 0
