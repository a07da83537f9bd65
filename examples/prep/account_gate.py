"""An asynchronous controller PrEp plugin: ask a slow service whether a job may run.

Controller hooks run on the controller's event loop, so anything slow must leave it: at each
job's allocation (``prep_p_prolog_slurmctld``) this plugin hands the job to a worker thread and
returns ``(SUCCESS, True)`` at once, promising one callback. The thread asks whether the job's
account may run (here, slowly, from a file standing in for an accounting service) and reports
through ``callbacks.prolog_slurmctld(rc, job_id)``: ``rc`` is a wait status, 0 to let the job
start, a non-zero exit status (``1 << 8``, "exit 1") to refuse it; a refused job is requeued,
as Slurm requeues a job whose PrologSlurmctld fails. At termination
(``prep_p_epilog_slurmctld``) another thread appends the job to a ledger and reports through
``callbacks.epilog_slurmctld``. The job given to a hook is a frozen copy, so the thread may
keep it.

Configuration, in ``[prep] parameters``::

    [prep]
    plugins = ["prep/script", "/etc/corral/prep/account_gate.py"]
    parameters = "account-gate.allow=/etc/corral/accounts,account-gate.ledger=/var/log/jobs"

``account-gate.allow`` names a file of allowed accounts, one per line;
``account-gate.ledger`` (optional) the file jobs are recorded in; ``account-gate.delay``
(seconds, optional) how slow the pretend service is.
"""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from corral import prep

plugin_name = "Account gate PrEp plugin"
plugin_type = "prep/account_gate"
plugin_version = prep.VERSION

log = logging.getLogger("corral.prep.account_gate")

#: A wait status meaning "exit 1": what a failing PrologSlurmctld script would report.
REFUSED = 1 << 8

_settings = {}
_state = {"callbacks": None, "pool": None}
_ledger_lock = threading.Lock()


def init():
    options = _parameters("account-gate.")
    if "allow" not in options:
        raise ValueError("account-gate.allow (a file of allowed accounts) is not set in "
                         "[prep] parameters")
    _settings.update(allow=options["allow"], ledger=options.get("ledger"),
                     delay=float(options.get("delay", "0")))
    _state["pool"] = ThreadPoolExecutor(max_workers=4, thread_name_prefix="account-gate")
    return prep.SUCCESS


def fini():
    pool = _state["pool"]
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
    _state.update(callbacks=None, pool=None)


def prep_p_register_callbacks(callbacks):
    _state["callbacks"] = callbacks  # only the controller calls this


def prep_p_prolog(job_env, cred):
    return prep.SUCCESS


def prep_p_epilog(job_env, cred):
    return prep.SUCCESS


def prep_p_prolog_slurmctld(job):
    _state["pool"].submit(_check_account, job)
    return prep.SUCCESS, True


def prep_p_epilog_slurmctld(job):
    if not _settings["ledger"]:
        return prep.SUCCESS
    _state["pool"].submit(_record, job)
    return prep.SUCCESS, True


def prep_p_required(call_type):
    controller = _state["callbacks"] is not None
    return controller and call_type in (prep.CallType.PROLOG_SLURMCTLD,
                                        prep.CallType.EPILOG_SLURMCTLD)


def _check_account(job):
    """In a worker thread: the slow question, then exactly one callback."""
    try:
        time.sleep(_settings["delay"])
        with open(_settings["allow"]) as allow_file:
            allowed = {line.strip() for line in allow_file if line.strip()}
        rc = prep.SUCCESS if job.account in allowed else REFUSED
        if rc:
            log.error("job %d: account %r may not run jobs", job.job_id, job.account)
    except OSError as exc:
        log.error("job %d: cannot read the allowed accounts: %s", job.job_id, exc)
        rc = REFUSED
    _state["callbacks"].prolog_slurmctld(rc, job.job_id)


def _record(job):
    try:
        with _ledger_lock, open(_settings["ledger"], "a") as ledger:
            ledger.write(f"{job.job_id} {job.user_name} {job.account or '-'} {job.exit_code}\n")
        rc = prep.SUCCESS
    except OSError as exc:
        log.error("job %d: cannot write the ledger: %s", job.job_id, exc)
        rc = REFUSED
    _state["callbacks"].epilog_slurmctld(rc, job.job_id)


def _parameters(prefix: str) -> dict[str, str]:
    """``key=value`` pairs of ``[prep] parameters`` whose key starts with ``prefix``."""
    options = {}
    for item in prep.parameters().split(","):
        key, _equals, value = item.strip().partition("=")
        if key.startswith(prefix):
            options[key[len(prefix):]] = value
    return options
