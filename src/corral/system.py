"""The system instance: the one a site runs for all its users (``corral start --system``),
where its parts live, and how commands find it when ``CORRAL_URI`` is not set.

Its state is in ``/var/lib/corral``, its socket ``/run/corral/local.sock`` and its
configuration ``/etc/corral/`` (a directory of ``*.toml`` files), as Flux's system instance
keeps ``/var/lib/flux``, ``/run/flux/local`` and ``/etc/flux/system/conf.d``.  Every path is
under the prefix ``CORRAL_SYSTEM_PREFIX`` (default ``/``), so that a test, or a site that
installs under ``/opt``, moves them all at once.  This module must stay cheap to import: every
command reads it to find an instance.
"""

import os

PREFIX_VARIABLE = "CORRAL_SYSTEM_PREFIX"


def prefix() -> str:
    return os.environ.get(PREFIX_VARIABLE) or "/"


def state_dir() -> str:
    return os.path.join(prefix(), "var/lib/corral")


def socket_path() -> str:
    return os.path.join(prefix(), "run/corral/local.sock")


def config_dir() -> str:
    return os.path.join(prefix(), "etc/corral")


def uri() -> str:
    return f"local://{socket_path()}"
