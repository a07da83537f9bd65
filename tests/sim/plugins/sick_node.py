"""A PrEp plugin for the simulator's tests: node1's prolog always fails; every hook call is
counted into the file named by ``[prep] parameters`` (``count=PATH``) when it unloads."""

import collections
import json

from corral import prep

plugin_name = "sick node"
plugin_type = "prep/sick"
plugin_version = prep.VERSION

calls = collections.Counter()


def init():
    return prep.SUCCESS


def fini():
    path = dict(item.split("=", 1) for item in prep.parameters().split(",") if item)["count"]
    with open(path, "w") as stream:
        json.dump(calls, stream)


def prep_p_register_callbacks(callbacks):
    pass


def prep_p_required(call_type):
    return True


def prep_p_prolog_slurmctld(job):
    calls["prolog_slurmctld"] += 1
    return prep.SUCCESS


def prep_p_epilog_slurmctld(job):
    calls["epilog_slurmctld"] += 1
    return prep.SUCCESS


def prep_p_prolog(job_env, cred):
    calls[f"prolog {job_env.node_name}"] += 1
    return prep.ERROR if job_env.node_name == "node1" else prep.SUCCESS


def prep_p_epilog(job_env, cred):
    calls[f"epilog {job_env.node_name}"] += 1
    return prep.SUCCESS
