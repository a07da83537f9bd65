"""A node health check as a PrEp plugin: refuse jobs on a node that is not fit to run them.

Before a job's tasks start on a node (``prep_p_prolog``) and after they are gone
(``prep_p_epilog``) it checks that the node's scratch directory exists, is writable and has
enough free space, and that every path the site needs (shared file systems, license files) is
there. A failed check fails the hook, so the node is drained with reason ``Prolog error`` (or
``Epilog error``) and the job is requeued elsewhere, as Slurm does with a failing node prolog.

Configuration, in ``[prep] parameters`` (Slurm's PrEpParameters, shared by all plugins)::

    [prep]
    plugins = ["prep/script", "/etc/corral/prep/health_check.py"]
    parameters = "health.scratch=/scratch,health.min-free-mb=1024,health.require=/home:/apps"
"""

import logging
import os

from corral import prep

plugin_name = "Node health check PrEp plugin"
plugin_type = "prep/health"
plugin_version = prep.VERSION

log = logging.getLogger("corral.prep.health")

_settings = {}


def init():
    """Read this plugin's keys of ``[prep] parameters``; a bad value stops the daemon."""
    options = _parameters("health.")
    try:
        min_free_mb = int(options.get("min-free-mb", "0"))
    except ValueError:
        raise ValueError(f"health.min-free-mb must be a whole number of MB, got "
                         f"{options['min-free-mb']!r}") from None
    _settings.update(
        scratch=options.get("scratch", "/tmp"),
        min_free_mb=min_free_mb,
        require=[path for path in options.get("require", "").split(":") if path],
    )
    return prep.SUCCESS


def fini():
    _settings.clear()


def prep_p_register_callbacks(callbacks):
    pass  # no controller work


def prep_p_prolog(job_env, cred):
    return _check(job_env, "prolog")


def prep_p_epilog(job_env, cred):
    return _check(job_env, "epilog")


def prep_p_prolog_slurmctld(job):
    return prep.SUCCESS


def prep_p_epilog_slurmctld(job):
    return prep.SUCCESS


def prep_p_required(call_type):
    return call_type in (prep.CallType.PROLOG, prep.CallType.EPILOG)


def problems() -> list[str]:
    """What is wrong with this node, in words fit for a log line (empty: healthy)."""
    found = []
    scratch = _settings["scratch"]
    if not os.path.isdir(scratch):
        found.append(f"scratch directory {scratch} is missing")
    elif not os.access(scratch, os.W_OK | os.X_OK):
        found.append(f"scratch directory {scratch} is not writable")
    else:
        stats = os.statvfs(scratch)
        free_mb = stats.f_bavail * stats.f_frsize // (1024 * 1024)
        if free_mb < _settings["min_free_mb"]:
            found.append(f"scratch directory {scratch} has {free_mb} MB free, "
                         f"{_settings['min_free_mb']} MB needed")
    found.extend(f"{path} is missing" for path in _settings["require"]
                 if not os.path.exists(path))
    return found


def _check(job_env, hook: str) -> int:
    found = problems()
    if not found:
        return prep.SUCCESS
    log.error("health %s for job %d on %s failed: %s", hook, job_env.job_id,
              job_env.node_name, "; ".join(found))
    return prep.ERROR


def _parameters(prefix: str) -> dict[str, str]:
    """``key=value`` pairs of ``[prep] parameters`` whose key starts with ``prefix``."""
    options = {}
    for item in prep.parameters().split(","):
        key, _equals, value = item.strip().partition("=")
        if key.startswith(prefix):
            options[key[len(prefix):]] = value
    return options
