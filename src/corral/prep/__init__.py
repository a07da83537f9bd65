"""The PrEp plugin API: what a PrEp plugin author imports.

A PrEp plugin is a module (or any object) exporting the names a Slurm PrEp plugin exports:
``plugin_name``, ``plugin_type`` (``"prep/<name>"``), an optional ``plugin_version`` equal to
`VERSION`, and the functions ``init``, ``fini``, ``prep_p_register_callbacks``,
``prep_p_prolog``, ``prep_p_epilog``, ``prep_p_prolog_slurmctld``, ``prep_p_epilog_slurmctld``
and ``prep_p_required``. This module holds only what those functions are given and return;
loading and calling plugins is the business of ``corral.prep.host``.
"""

from .callbacks import Callbacks
from .constants import ERROR, SUCCESS, VERSION, CallType
from .cred import Cred
from .records import JobEnv, JobRecord

__all__ = [
    "ERROR",
    "SUCCESS",
    "VERSION",
    "Callbacks",
    "CallType",
    "Cred",
    "JobEnv",
    "JobRecord",
    "parameters",
]

_parameters = ""


def parameters() -> str:
    """The ``[prep] parameters`` string (Slurm's PrEpParameters), ``""`` when unset."""
    return _parameters


def _set_parameters(text: str) -> None:
    """Set what `parameters` returns; the plugin host calls this before it loads plugins."""
    global _parameters
    _parameters = text
