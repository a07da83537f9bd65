"""The PrEp hook chains (Slurm's ``prep_g_*`` calls): every plugin in order, first failure stops.

Kept apart from loading so that what runs per job is small and easy to watch. A plugin never
takes the caller down: an exception, or a return value that is not one the API allows, is a
failure (``prep.ERROR``) logged with the plugin's name. Controller hooks return ``rc`` or
``(rc, async_)``; each plugin that promised asynchronous work adds its units to the result
even when it also failed (as Slurm counts them), and a synchronous failure stops the chain.
Node hooks return a status, and the first non-zero one stops the chain and is the result.
"""

import logging
import time
from typing import NamedTuple

from ..timings import CallTimes
from .constants import ERROR, SUCCESS
from .run import UnusableJobInput

log = logging.getLogger("corral.prep")

_perf_counter = time.perf_counter


class HookResult(NamedTuple):
    """What a controller hook chain did: ``rc`` is the first failing synchronous return (or
    ``SUCCESS``); ``pending`` counts the callbacks the plugins promised for this job."""

    rc: int
    pending: int


def call_controller_hooks(plugins, hook: str, job, slow_threshold: float,
                          times: CallTimes, clock=_perf_counter) -> HookResult:
    """Call ``hook`` (``prep_p_prolog_slurmctld`` or ``prep_p_epilog_slurmctld``) with
    `JobRecord` ``job`` on ``plugins``. A call that holds the caller (the controller's event
    loop) longer than ``slow_threshold`` seconds by ``clock`` is logged; every call's time
    and failure is added to ``times`` by plugin and hook."""
    pending = 0
    for plugin in plugins:
        started = clock()
        try:
            value = getattr(plugin.target, hook)(job)
        except Exception as exc:
            log.error("prep: %s: %s(job %d) raised %s: %s", plugin.name, hook, job.job_id,
                      type(exc).__name__, exc, exc_info=exc)
            value = ERROR
        elapsed = clock() - started
        if elapsed > slow_threshold:
            log.warning("prep: %s: %s(job %d) held the event loop for %.0f ms", plugin.name,
                        hook, job.job_id, elapsed * 1000)
        rc, units = _controller_return(plugin, hook, value)
        times.add((plugin.name, hook), elapsed, rc != SUCCESS)
        pending += units
        if rc != SUCCESS:
            log.warning("prep: %s: %s(job %d) returned %d: the plugins after it are not "
                        "called; a synchronous failure does not fail the job", plugin.name,
                        hook, job.job_id, rc)
            return HookResult(rc, pending)
    return HookResult(SUCCESS, pending)


def call_node_hooks(plugins, hook: str, job_env, cred, times: list | None = None) -> int:
    """Call ``hook`` (``prep_p_prolog`` or ``prep_p_epilog``) on ``plugins``; return the
    first non-zero status, else ``SUCCESS``.  ``times`` gets ``[plugin, hook, seconds,
    failed]`` for each call (node hooks run on nodes: the controller adds them up from the
    agents' answers)."""
    for plugin in plugins:
        started = _perf_counter()
        try:
            value = getattr(plugin.target, hook)(job_env, cred)
        except UnusableJobInput:
            raise  # the job's fault, not the plugin's or the node's: the job fails alone
        except Exception as exc:
            log.error("prep: %s: %s(job %d) raised %s: %s", plugin.name, hook, job_env.job_id,
                      type(exc).__name__, exc, exc_info=exc)
            value = ERROR
        if value is None:
            value = SUCCESS
        elif type(value) is not int:
            log.error("prep: %s: %s(job %d) returned %r, expected an int", plugin.name, hook,
                      job_env.job_id, value)
            value = ERROR
        if times is not None:
            times.append([plugin.name, hook, _perf_counter() - started, value != SUCCESS])
        if value != SUCCESS:
            return value
    return SUCCESS


def _controller_return(plugin, hook: str, value) -> tuple[int, int]:
    """``(rc, asynchronous units)`` from a controller hook's return value.

    ``None`` is success; ``async_`` is a bool (one unit) or a count of units (an extension
    prep/script uses: one callback per script it started).
    """
    if value is None:
        return SUCCESS, 0
    if type(value) is int:
        return value, 0
    if isinstance(value, tuple) and len(value) == 2:
        rc, units = value
        if type(rc) is int and type(units) in (bool, int) and units >= 0:
            return rc, int(units)
    log.error("prep: %s: %s returned %r, expected rc or (rc, async_)", plugin.name, hook,
              value)
    return ERROR, 0
