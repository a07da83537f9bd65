"""The environments PrEp scripts run with, variable for variable as Slurm builds them.

A script gets only what its context defines: no ``PATH``, ``HOME`` or ``USER``, nothing of the
daemon's own environment. ``node_env`` builds what slurmd gives ``Prolog`` and ``Epilog``
(``SLURM_SCRIPT_CONTEXT=prolog_slurmd|epilog_slurmd``) from a `JobEnv` and the launch `Cred`;
``controller_env`` what slurmctld gives ``PrologSlurmctld`` and ``EpilogSlurmctld``
(``prolog_slurmctld|epilog_slurmctld``) from a `JobRecord`. User-supplied variables come first
and only with a ``SPANK_`` prefix, so nothing a user sets can override a Slurm variable or
reach a root script as ``LD_PRELOAD``.

The sets are current Slurm's (a superset of what Slurm 22.05 passed) without the variables of
features corral does not have: reservations, licenses, wckeys, SELinux, job arrays,
heterogeneous jobs, ``--extra``. The end time is left out when the job has no time limit
(Slurm invents one a year away). This module must not decide which scripts run or when.
"""

from collections.abc import Iterable, Mapping

from ..slurm import DEFAULT_PARTITION
from ..waitstatus import exit_and_signal

SPANK_PREFIX = "SPANK_"

#: The variables a GPU allocation sets, all with host-wide device ids (the job itself sees
#: ids relative to its cgroup in Slurm; prolog and epilog see the node's own).
_GPU_VARIABLES = ("CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "ZE_AFFINITY_MASK",
                  "GPU_DEVICE_ORDINAL", "SLURM_JOB_GPUS")


def gpu_env(gpu_ids: Iterable[int]) -> dict[str, str]:
    """The GPU variables of a node that gives a job ``gpu_ids`` (none without GPUs)."""
    ids = ",".join(str(gpu) for gpu in gpu_ids)
    return {name: ids for name in _GPU_VARIABLES} if ids else {}


def spank_env(variables: Mapping[str, str]) -> dict[str, str]:
    """``variables`` with ``SPANK_`` put in front of every name that lacks it."""
    return {
        name if name.startswith(SPANK_PREFIX) else SPANK_PREFIX + name: value
        for name, value in variables.items()
    }


def compress_counts(counts: Iterable[int]) -> str:
    """Slurm's compressed count list: ``[2, 2, 2, 1]`` is ``"2(x3),1"``."""
    groups: list[list[int]] = []
    for count in counts:
        if groups and groups[-1][0] == count:
            groups[-1][1] += 1
        else:
            groups.append([count, 1])
    return ",".join(f"{count}(x{repeat})" if repeat > 1 else str(count)
                    for count, repeat in groups)


def exit_code_env(wait_status: int, derived_ec: int) -> dict[str, str]:
    """The epilog's exit code trio: the raw wait status and ``exit:signal``."""
    exited, signalled = exit_and_signal(wait_status)
    return {
        "SLURM_JOB_DERIVED_EC": str(derived_ec),
        "SLURM_JOB_EXIT_CODE": str(wait_status),
        "SLURM_JOB_EXIT_CODE2": f"{exited}:{signalled}",
    }


def node_env(job_env, cred, epilog: bool, cluster_name: str,
             conf_path: str | None) -> dict[str, str]:
    """The environment of a node ``Prolog`` (``epilog`` false) or ``Epilog`` script.

    ``cred`` may be None (Slurm then leaves out every variable the credential gives and looks
    the user name up from the uid, here taken from ``job_env``). ``conf_path`` is the corral
    configuration (``SLURM_CONF``), left out when the instance has none.
    """
    env = spank_env(job_env.spank_env)
    env.update(job_env.gres_env)
    env["SLURMD_NODENAME"] = job_env.node_name
    if conf_path is not None:
        env["SLURM_CONF"] = conf_path
    env.update({
        "SLURM_CLUSTER_NAME": cluster_name,
        "SLURM_JOB_ID": str(job_env.job_id),
        "SLURM_JOB_UID": str(job_env.uid),
        "SLURM_JOB_GID": str(job_env.gid),
        "SLURM_JOB_WORK_DIR": job_env.work_dir,
        "SLURM_JOBID": str(job_env.job_id),
        "SLURM_UID": str(job_env.uid),
    })
    if job_env.node_list:
        env["SLURM_NODELIST"] = job_env.node_list
        env["SLURM_JOB_NODELIST"] = job_env.node_list
    env["SLURM_JOB_PARTITION"] = job_env.partition or DEFAULT_PARTITION
    env["SLURM_SCRIPT_CONTEXT"] = "epilog_slurmd" if epilog else "prolog_slurmd"
    if epilog and job_env.exit_code is not None:
        env.update(exit_code_env(job_env.exit_code, job_env.derived_ec))
    if cred is not None:
        _set_if(env, "SLURM_JOB_ACCOUNT", cred.account)
        _set_if(env, "SLURM_JOB_COMMENT", cred.comment)
        env["SLURM_JOB_CORE_SPEC_COUNT"] = "0"  # corral reserves no cores for the system
        env["SLURM_JOB_CORE_SPEC_TYPE"] = "cores"
        _set_if(env, "SLURM_JOB_CONSTRAINTS", cred.constraints)
        _set_if(env, "SLURM_JOB_END_TIME", cred.end_time)
        _set_if(env, "SLURM_JOB_CPUS_PER_NODE", compress_counts(cred.cpus_per_node))
        _set_if(env, "SLURM_JOB_NTASKS", cred.ntasks)
        _set_if(env, "SLURM_JOB_NUM_NODES", len(cred.cpus_per_node))
        env.update(_sharing_env(cred.exclusive))
        env["SLURM_JOB_PARTITION"] = cred.partition or DEFAULT_PARTITION
        _set_if(env, "SLURM_JOB_QOS", cred.qos)
        env["SLURM_JOB_RESTART_COUNT"] = str(cred.restart_count)
        _set_if(env, "SLURM_JOB_START_TIME", cred.start_time)
        _set_if(env, "SLURM_JOB_STDERR", cred.std_err)
        _set_if(env, "SLURM_JOB_STDIN", cred.std_in)
        _set_if(env, "SLURM_JOB_STDOUT", cred.std_out)
        env["SLURM_JOB_USER"] = cred.user_name
    else:
        env["SLURM_JOB_USER"] = job_env.user_name
    return env


def controller_env(job, epilog: bool, cluster_name: str) -> dict[str, str]:
    """The environment of a ``PrologSlurmctld`` (``epilog`` false) or ``EpilogSlurmctld``
    script for `JobRecord` ``job``."""
    env = spank_env(job.spank_env)
    _set_if(env, "SLURM_JOB_ACCOUNT", job.account)
    _set_if(env, "SLURM_JOB_QOS", job.qos)
    env["SLURM_CLUSTER_NAME"] = cluster_name
    _set_if(env, "SLURM_JOB_COMMENT", job.comment)
    _set_if(env, "SLURM_JOB_END_TIME", job.end_time)
    env.update({
        "SLURM_JOB_GID": str(job.gid),
        "SLURM_JOB_GROUP": job.group_name,
        "SLURM_JOBID": str(job.job_id),
        "SLURM_JOB_ID": str(job.job_id),
        "SLURM_JOB_NAME": job.name,
    })
    _set_if(env, "SLURM_JOB_NODELIST", job.node_list)
    if job.cpus_per_node:
        env["SLURM_JOB_CPUS_PER_NODE"] = compress_counts(job.cpus_per_node)
        env["SLURM_JOB_NUM_NODES"] = str(job.num_nodes)
    env["SLURM_JOB_PARTITION"] = job.partition or DEFAULT_PARTITION
    env["SLURM_JOB_RESTART_COUNT"] = str(job.restart_count)
    _set_if(env, "SLURM_JOB_START_TIME", job.start_time)
    env["SLURM_JOB_UID"] = str(job.uid)
    env["SLURM_JOB_USER"] = job.user_name
    _set_if(env, "SLURM_JOB_CONSTRAINTS", job.constraints)
    env.update(_sharing_env(job.exclusive))
    _set_if(env, "SLURM_JOB_STDERR", job.std_err)
    _set_if(env, "SLURM_JOB_STDIN", job.std_in)
    _set_if(env, "SLURM_JOB_STDOUT", job.std_out)
    env["SLURM_JOB_WORK_DIR"] = job.work_dir
    env["SLURM_SCRIPT_CONTEXT"] = "epilog_slurmctld" if epilog else "prolog_slurmctld"
    if epilog:
        env.update(exit_code_env(job.exit_code, job.derived_ec))
    return env


def _sharing_env(exclusive: bool) -> dict[str, str]:
    """Slurm's sharing variables: an exclusive job shares no node (``--exclusive``)."""
    if exclusive:
        return {"SLURM_JOB_OVERSUBSCRIBE": "NO", "SLURM_JOB_EXCLUSIVE": "NODE"}
    return {"SLURM_JOB_OVERSUBSCRIBE": "OK", "SLURM_JOB_EXCLUSIVE": "NO"}


def _set_if(env: dict[str, str], name: str, value) -> None:
    """Set ``name`` when ``value`` is set (not None, empty or zero), as Slurm's ``if (x)``."""
    if value:
        env[name] = str(value)
