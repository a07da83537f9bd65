"""``corral jobtap``: load, remove, list and query jobtap plugins in a running instance,
as ``flux jobtap`` does."""

import errno
import json
import os

from ..client import RPCError, connect
from . import CommandError


def register(subparsers):
    parser = subparsers.add_parser("jobtap", help="manage jobtap plugins")
    commands = parser.add_subparsers(dest="jobtap_command", metavar="SUBCOMMAND", required=True)
    load = commands.add_parser("load", help="load a plugin (key=val sets its conf)")
    load.add_argument("--remove", metavar="NAME", help="remove this plugin first")
    load.add_argument("plugin")
    load.add_argument("conf", nargs="*", metavar="KEY=VAL")
    load.set_defaults(func=_load)
    remove = commands.add_parser("remove", help="remove plugins by name, glob or 'all'")
    remove.add_argument("name")
    remove.set_defaults(func=_remove)
    listing = commands.add_parser("list", help="loaded plugins, in call order")
    listing.add_argument("-a", "--all", action="store_true", help="builtins too")
    listing.set_defaults(func=_list)
    query = commands.add_parser("query", help="a plugin's query answer, as JSON")
    query.add_argument("name")
    query.set_defaults(func=_query)


def parse_conf(items) -> dict:
    """``a.b=1 c=x`` -> ``{"a": {"b": 1}, "c": "x"}``: dotted keys nest, values are JSON
    when they parse as JSON, as flux jobtap load does."""
    conf: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"corral jobtap load: '{item}' is not KEY=VAL")
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
        node = conf
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SystemExit(f"corral jobtap load: '{item}' conflicts with an earlier key")
        node[parts[-1]] = value
    return conf


def _load(args):
    plugin = args.plugin
    if (plugin.endswith(".py") or "/" in plugin) and os.path.exists(plugin):
        plugin = os.path.abspath(plugin)
    payload = {"load": plugin, "conf": parse_conf(args.conf)}
    if args.remove:
        payload["remove"] = args.remove
    with connect() as client:
        client.rpc("job-manager.jobtap", payload)


def _not_found(name):
    raise CommandError(f"{name} not found")


def _remove(args):
    with connect() as client:
        try:
            client.rpc("job-manager.jobtap", {"remove": args.name})
        except RPCError as exc:
            if exc.errno == errno.ENOENT:
                _not_found(args.name)
            raise


def _list(args):
    with connect() as client:
        plugins = client.rpc("job-manager.jobtap", {"query_only": True})["plugins"]
    for name in plugins:
        if args.all or not name.startswith("."):
            print(name)


def _query(args):
    with connect() as client:
        try:
            answer = client.rpc("job-manager.jobtap-query", {"name": args.name})
        except RPCError as exc:
            if exc.errno == errno.ENOENT:
                _not_found(args.name)
            raise
    print(json.dumps(answer))
