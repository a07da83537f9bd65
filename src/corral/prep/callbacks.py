"""The callbacks an asynchronous controller hook reports through (Slurm's prep_callbacks_t).

A plugin receives one `Callbacks` in ``prep_p_register_callbacks`` (controller only) and, for
every unit of asynchronous work a controller hook promised, calls ``prolog_slurmctld(rc,
job_id, timed_out)`` or ``epilog_slurmctld(...)`` once, later, from any thread. The object only
checks the arguments and hands them to the ``deliver`` function the plugin host was given;
making that safe to call from any thread (``loop.call_soon_threadsafe``) is the controller's
part.
"""

import logging

from .constants import CallType

log = logging.getLogger("corral.prep")


class Callbacks:
    """Report the result of an asynchronous ``prep_p_{prolog,epilog}_slurmctld`` call.

    ``rc`` is a wait status as Slurm uses it: 0 is success, a non-zero exit status a failure,
    a death by signal a failure only when ``timed_out`` is true (otherwise the job was
    cancelled). ``prep.ERROR`` counts as a failure too.
    """

    __slots__ = ("_deliver",)

    def __init__(self, deliver):
        self._deliver = deliver

    def prolog_slurmctld(self, rc: int, job_id: int, timed_out: bool = False) -> None:
        self._report(CallType.PROLOG_SLURMCTLD, rc, job_id, timed_out)

    def epilog_slurmctld(self, rc: int, job_id: int, timed_out: bool = False) -> None:
        self._report(CallType.EPILOG_SLURMCTLD, rc, job_id, timed_out)

    def _report(self, kind: CallType, rc: int, job_id: int, timed_out: bool) -> None:
        hook = kind.name.lower()
        for name, value in (("rc", rc), ("job_id", job_id)):
            if type(value) is not int:
                raise TypeError(f"callbacks.{hook}: {name} must be an int, got {value!r}")
        try:
            self._deliver(kind, rc, job_id, bool(timed_out))
        except Exception as exc:
            # Raised into the plugin's thread, the error would go unseen: log it instead.
            log.error("prep: callbacks.%s(%d, job %d) could not be delivered: %s", hook, rc,
                      job_id, exc, exc_info=exc)
