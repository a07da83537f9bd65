"""The jobtap plugin API: what a plugin author imports.

A plugin is a module with ``plugin_init(p)``; ``p`` is a `Plugin` whose methods are the
``flux_jobtap_*`` calls without the prefix.  The seed's calling form with the plugin first
(``jobtap.reject_job(p, args, ...)``) is here too; each raises ``OSError(EINVAL)`` when given
something that is not a plugin handle, as the C API returns NULL with EINVAL.
"""

import errno

from .broker.roles import ROLE_OWNER, ROLE_USER
from .jobmanager.plugin import (
    CURRENT_JOB,
    PRIORITY_MAX,
    PRIORITY_MIN,
    PRIORITY_UNAVAIL,
    URGENCY_DEFAULT,
    URGENCY_EXPEDITE,
    URGENCY_HOLD,
    Args,
    Plugin,
)
from .states import Result, State

__all__ = [
    "CURRENT_JOB",
    "PRIORITY_MAX",
    "PRIORITY_MIN",
    "PRIORITY_UNAVAIL",
    "ROLE_OWNER",
    "ROLE_USER",
    "URGENCY_DEFAULT",
    "URGENCY_EXPEDITE",
    "URGENCY_HOLD",
    "Args",
    "Plugin",
    "Result",
    "State",
    "get_flux",
    "priority_unavail",
    "reject_job",
    "reprioritize_all",
    "reprioritize_job",
    "service_register",
]


def _plugin(p) -> Plugin:
    if not isinstance(p, Plugin):
        raise OSError(errno.EINVAL, "not a jobtap plugin handle")
    return p


def get_flux(p):
    return _plugin(p).get_flux()


def service_register(p, method, callback, arg=None, rolemask=ROLE_OWNER):
    return _plugin(p).service_register(method, callback, arg, rolemask)


def reprioritize_all(p):
    return _plugin(p).reprioritize_all()


def reprioritize_job(p, job_id, priority):
    return _plugin(p).reprioritize_job(job_id, priority)


def priority_unavail(p, args):
    return _plugin(p).priority_unavail(args)


def reject_job(p, args, fmt=None, *fmtargs):
    return _plugin(p).reject_job(args, fmt, *fmtargs)
