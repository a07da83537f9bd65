"""The seed calls around services and the handle: `service_register` before the plugin has a
name fails with EINVAL, after `set_name` it works; a service is owner-only unless registered
with a rolemask; `get_flux` answers only for a plugin handle."""

import errno

from corral import jobtap
from corral.broker.handle import Handle


def plugin_init(p):
    try:
        jobtap.service_register(p, "early", lambda h, msg: h.respond(msg))
    except OSError as exc:
        early = errno.errorcode[exc.errno]
    else:
        early = "registered"
    p.set_name("service-check")
    try:
        jobtap.get_flux("not a plugin")
    except OSError as exc:
        not_a_plugin = errno.errorcode[exc.errno]
    h = jobtap.get_flux(p)

    def info(h, msg, extra):
        h.respond(msg, {"early": early, "not_a_plugin": not_a_plugin,
                        "handle": isinstance(h, Handle), "same": h is jobtap.get_flux(p),
                        "userid": msg.userid, "extra": extra})

    jobtap.service_register(p, "owner", info, "for the owner")
    jobtap.service_register(p, "anyone", info, "for anyone", jobtap.ROLE_USER)
    h.log(6, "service-check: loaded")
