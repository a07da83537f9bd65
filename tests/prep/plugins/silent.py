"""A controller plugin for the tests that promises its controller prolog a callback and never
sends it (a bug a plugin test should catch)."""

from corral import prep

plugin_name = "Silent test plugin"
plugin_type = "prep/silent"
plugin_version = prep.VERSION


def init():
    return prep.SUCCESS


def fini():
    pass


def prep_p_register_callbacks(callbacks):
    pass


def prep_p_prolog(job_env, cred):
    return prep.SUCCESS


def prep_p_epilog(job_env, cred):
    return prep.SUCCESS


def prep_p_prolog_slurmctld(job):
    return prep.SUCCESS, True


def prep_p_epilog_slurmctld(job):
    return prep.SUCCESS


def prep_p_required(call_type):
    return call_type == prep.CallType.PROLOG_SLURMCTLD
