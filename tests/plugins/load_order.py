"""Records, in the controller log, every job callback it gets while being loaded: the replay
of existing jobs (``job.create``, ``job.new``, ``job.state.depend``) in the order its
``sort`` conf asks for (none, state, -state), and its conf."""

import json

from corral.jobtap import get_flux


def plugin_init(p):
    p.set_name("load-order")
    h = get_flux(p)
    h.log(6, "load-order: conf=%s", json.dumps(p.conf, separators=(",", ":")))
    p.set_load_sort_order(p.conf.get("sort", "none"))

    def seen(p, topic, args):
        h.log(6, "load-order: seen %s", json.dumps({"topic": topic, "id": args["id"],
                                               "state": args["state"]}))

    for topic in ("job.create", "job.new", "job.state.depend"):
        p.add_handler(topic, seen)
