"""A PrEp plugin that misbehaves on request, for the tests: ``misbehave.raise`` names the
hooks that raise, separated by colons (``prolog:epilog:prolog_slurmctld:epilog_slurmctld``),
``misbehave.sleep``
makes ``prep_p_prolog_slurmctld`` hold the event loop that many seconds,
``misbehave.silent=1`` makes it promise a callback it never sends, and
``misbehave.record`` is a directory where every call leaves a file (``<hook>.<job id>``).
``prep_p_required`` says what ``MISBEHAVE_REQUIRED=1`` in the environment says: it gates
only the controller prolog."""

import os
import time

from corral import prep

plugin_name = "Misbehaving test plugin"
plugin_type = "prep/misbehave"

_options = {}


def init():
    for item in prep.parameters().split(","):
        key, _eq, value = item.partition("=")
        if key.startswith("misbehave."):
            _options[key[len("misbehave."):]] = value
    return prep.SUCCESS


def fini():
    pass


def prep_p_register_callbacks(callbacks):
    pass


def _call(hook, job_id):
    record = _options.get("record")
    if record:
        open(os.path.join(record, f"{hook}.{job_id}"), "w").close()
    if hook in _options.get("raise", "").split(":"):
        raise RuntimeError(f"{hook} broke on purpose")
    return prep.SUCCESS


def prep_p_prolog(job_env, cred):
    return _call("prolog", job_env.job_id)


def prep_p_epilog(job_env, cred):
    return _call("epilog", job_env.job_id)


def prep_p_prolog_slurmctld(job):
    time.sleep(float(_options.get("sleep", "0")))
    result = _call("prolog_slurmctld", job.job_id)
    return (result, True) if _options.get("silent") == "1" else result


def prep_p_epilog_slurmctld(job):
    return _call("epilog_slurmctld", job.job_id)


def prep_p_required(call_type):
    return os.environ.get("MISBEHAVE_REQUIRED") == "1"
