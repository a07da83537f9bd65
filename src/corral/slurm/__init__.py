"""Slurm-compatible commands (sbatch, srun, squeue, scancel, sacct, sinfo, scontrol, salloc)
that drive a corral instance, so that Slurm batch scripts and the tools that parse Slurm's
output work unchanged.

One module per command, each with ``main(argv) -> exit status``; shared pieces: `options`
(command lines and ``#SBATCH``), `times`, `patterns` (``%j`` file names), `formats` (squeue
and sacct columns), `states` (the one state and reason map), `records` (jobs as Slurm shows
them), `submission` (options to jobspecs), `jobstart` (the in-job helper), `launchers` (the
``corral slurm path`` directory).  Every refusal is one line, ``CMD: error: ...``, exit 1.
"""

import sys

#: The partition of a job in corral's anonymous queue (no ``[queues]`` configured, or none
#: named): Slurm always has one, so the commands and the PrEp environments
#: (``SLURM_JOB_PARTITION``) use this name.  Kept here, with no imports around it, so that
#: neither the commands nor PrEp pull in the other's modules.
DEFAULT_PARTITION = "default"

#: The one cluster (``scontrol show config``'s ``ClusterName``, what ``sacct -M`` selects).
CLUSTER_NAME = "corral"


class SubmitError(Exception):
    """A job that cannot be submitted; the message is for ``CMD: error: ...``."""


def run(command: str, body, argv) -> int:
    """Run ``body(argv)``, turning the failures a user can cause into Slurm's one line.

    Every other refusal (`options.OptionError`, `formats.FormatError`, a bad job id) is a
    ValueError, so this needs no command's modules: importing `submission` here would cost
    a plain ``squeue`` about 15 ms."""
    from ..client import RPCError

    try:
        return body(argv) or 0
    except (SubmitError, ValueError) as exc:
        print(f"{command}: error: {exc}", file=sys.stderr)
    except RPCError as exc:
        print(f"{command}: error: {exc.strerror or exc}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return 1
