"""The numbers the PrEp API speaks in: return codes, call types and the ABI version.

They live apart from ``corral.prep`` (which re-exports them) so that the modules that make up
the package can use them without importing the package they are part of.
"""

import enum

#: A hook succeeded (Slurm's SLURM_SUCCESS).
SUCCESS = 0
#: A hook failed (Slurm's SLURM_ERROR).
ERROR = -1

#: corral's PrEp plugin ABI version. A plugin that sets ``plugin_version`` must set it to this
#: value, as a Slurm plugin must match SLURM_VERSION_NUMBER; it changes only when the API does.
VERSION = 1


class CallType(enum.IntEnum):
    """What ``prep_p_required(call_type)`` is asked about (Slurm's prep_call_type_t)."""

    REGISTER_CALLBACKS = 0
    PROLOG = 1
    EPILOG = 2
    PROLOG_SLURMCTLD = 3
    EPILOG_SLURMCTLD = 4
