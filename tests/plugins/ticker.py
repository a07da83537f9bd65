"""Logs a tick every 50 ms from a repeating timer; removing the plugin stops it."""

from corral.jobtap import get_flux


def plugin_init(p):
    h = get_flux(p)
    h.timer(0.05, lambda timer: h.log(6, "ticker: tick"), repeat=0.05)
