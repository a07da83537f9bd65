"""flux-core's args.so in Python: for every job callback, logs which IN keys it got and
whether each has the type flux-core's job manager gives it."""

import json

from corral.jobtap import get_flux

_TYPES = {"id": int, "userid": int, "urgency": int, "state": int, "priority": int,
          "t_submit": float, "jobspec": dict, "R": dict, "end_event": dict, "entry": dict,
          "prev_state": int}


def check(p, topic, args):
    wrong = sorted(key for key, kind in _TYPES.items()
                   if key in args and not isinstance(args[key], kind))
    if "resources" not in args["jobspec"]:
        wrong.append("jobspec.resources")
    get_flux(p).log(6, "args-check: %s", json.dumps({
        "topic": topic, "keys": sorted(args.in_), "state": args["state"],
        "result": "OK" if not wrong else f"wrong type: {wrong}"}))


def plugin_init(p):
    p.add_handler("job.*", check)
