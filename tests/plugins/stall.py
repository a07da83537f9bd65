"""A plugin whose service holds the event loop for ``seconds`` (what a stuck controller
looks like from outside): ``job-manager.stall.hold``, which first creates the file
``started`` names, so that a test knows the loop is held."""

import pathlib
import time


def plugin_init(p):
    p.set_name("stall")

    def hold(h, msg):
        pathlib.Path(msg.payload["started"]).touch()
        time.sleep(msg.payload["seconds"])
        h.respond(msg, {})

    p.service_register("hold", hold)
