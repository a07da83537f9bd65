"""An asynchronous controller plugin for the tests: each controller hook hands the job to a
thread of its own, which reports through the callbacks after ``delay`` seconds.

``[prep] parameters``: ``async.record=DIR`` (where it writes what it saw), ``async.delay=S``.
A job whose comment is ``refuse`` fails its controller prolog (``exit 1``).
"""

import os
import threading
import time

from corral import prep

plugin_name = "Async thread test plugin"
plugin_type = "prep/async_thread"
plugin_version = prep.VERSION

_state = {"callbacks": None, "record": None, "delay": 0.0}


def _options():
    options = {}
    for item in prep.parameters().split(","):
        key, _eq, value = item.partition("=")
        if key.startswith("async."):
            options[key[len("async."):]] = value
    return options


def init():
    options = _options()
    _state["record"] = options["record"]
    _state["delay"] = float(options.get("delay", "0.2"))
    return prep.SUCCESS


def fini():
    with open(os.path.join(_state["record"], "fini"), "w") as file:
        file.write("fini\n")


def prep_p_register_callbacks(callbacks):
    _state["callbacks"] = callbacks
    with open(os.path.join(_state["record"], "registered"), "a") as file:
        file.write("registered\n")


def prep_p_prolog(job_env, cred):
    return prep.SUCCESS


def prep_p_epilog(job_env, cred):
    return prep.SUCCESS


def _later(kind, job):
    time.sleep(_state["delay"])
    with open(os.path.join(_state["record"], f"{kind}.{job.job_id}"), "w") as file:
        file.write(threading.current_thread().name + "\n")
    rc = 1 << 8 if kind == "prolog" and job.comment == "refuse" else prep.SUCCESS
    report = getattr(_state["callbacks"], f"{kind}_slurmctld")
    report(rc, job.job_id)


def prep_p_prolog_slurmctld(job):
    threading.Thread(target=_later, args=("prolog", job), name="async-prolog").start()
    return prep.SUCCESS, True


def prep_p_epilog_slurmctld(job):
    threading.Thread(target=_later, args=("epilog", job), name="async-epilog").start()
    return prep.SUCCESS, True


def prep_p_required(call_type):
    return call_type in (prep.CallType.PROLOG_SLURMCTLD, prep.CallType.EPILOG_SLURMCTLD)
