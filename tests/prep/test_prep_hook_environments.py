"""The exact environment of each hook context on a running instance: Slurm's checklist T2,
T8, T9, T10, appendix A.1.1 and reference §2.5/§2.7 — variable for variable, nothing else
(no ``PATH``, ``HOME``, ``USER``; the shell adds only ``PWD``)."""

import grp
import os
import pwd

from prep_helpers import read_env, wait

from corral import jobspec


def _identity():
    entry = pwd.getpwuid(os.geteuid())
    return entry.pw_name, str(entry.pw_uid), str(entry.pw_gid), grp.getgrgid(entry.pw_gid).gr_name


def test_each_hook_context_gets_exactly_slurms_variables(make_instance, make_script, tmp_path):
    dump = make_script("dump", f"env > {tmp_path}/$SLURM_SCRIPT_CONTEXT.$SLURMD_NODENAME\n")
    config = tmp_path / "corral.toml"
    config.write_text(f"""
[prep]
prolog = "{dump}"
epilog = "{dump}"
prolog-slurmctld = "{dump}"
epilog-slurmctld = "{dump}"
cluster-name = "testcluster"

[queues.debug]
""")
    instance = make_instance(test_size=2, config=config)
    workdir = tmp_path / "work"
    workdir.mkdir()
    spec = jobspec.build(
        ["sh", "-c", "exit 3"], nnodes=2, duration="1h", cwd=str(workdir), queue="debug",
        name="envjob", output="job-{{id}}.out", error="job-{{id}}.err",
        environment={"SPANK_FOO": "x", "BAR": "y", "LD_PRELOAD": "/evil.so", "PATH": "/bin"},
        setattr=["system.account=acct", "system.qos=high", "system.comment=a comment"])
    with instance.client() as client:
        job_id = client.submit(spec)
        wait(client, job_id)
        R = client.job_info(job_id, "R")["R"]
    user, uid, gid, group = _identity()
    start, end = str(int(R["execution"]["starttime"])), str(int(R["execution"]["expiration"]))
    ncores = len(os.sched_getaffinity(0))
    job = str(job_id)
    common = {
        "SLURM_CLUSTER_NAME": "testcluster",
        "SLURM_JOBID": job,
        "SLURM_JOB_ACCOUNT": "acct",
        "SLURM_JOB_COMMENT": "a comment",
        "SLURM_JOB_CPUS_PER_NODE": f"{ncores}(x2)",
        "SLURM_JOB_END_TIME": end,
        "SLURM_JOB_EXCLUSIVE": "NODE",
        "SLURM_JOB_GID": gid,
        "SLURM_JOB_ID": job,
        "SLURM_JOB_NUM_NODES": "2",
        "SLURM_JOB_OVERSUBSCRIBE": "NO",
        "SLURM_JOB_PARTITION": "debug",
        "SLURM_JOB_QOS": "high",
        "SLURM_JOB_RESTART_COUNT": "0",
        "SLURM_JOB_START_TIME": start,
        "SLURM_JOB_STDERR": f"{workdir}/job-{{{{id}}}}.err",
        "SLURM_JOB_STDIN": "/dev/null",
        "SLURM_JOB_STDOUT": f"{workdir}/job-{{{{id}}}}.out",
        "SLURM_JOB_UID": uid,
        "SLURM_JOB_USER": user,
        "SLURM_JOB_WORK_DIR": str(workdir),
        "SPANK_FOO": "x",
    }
    node = dict(common, **{
        "SLURM_CONF": str(config),
        "SLURM_JOB_CORE_SPEC_COUNT": "0",
        "SLURM_JOB_CORE_SPEC_TYPE": "cores",
        "SLURM_JOB_NODELIST": "node[0-1]",
        "SLURM_JOB_NTASKS": "2",
        "SLURM_NODELIST": "node[0-1]",
        "SLURM_UID": uid,
    })
    controller = dict(common, **{
        "SLURM_JOB_GROUP": group,
        "SLURM_JOB_NAME": "envjob",
        "SLURM_JOB_NODELIST": "node[0-1]",
    })
    exit_codes = {"SLURM_JOB_DERIVED_EC": "0", "SLURM_JOB_EXIT_CODE": "768",
                  "SLURM_JOB_EXIT_CODE2": "3:0"}
    for name in ("node0", "node1"):
        assert read_env(tmp_path / f"prolog_slurmd.{name}") == dict(
            node, SLURMD_NODENAME=name, SLURM_SCRIPT_CONTEXT="prolog_slurmd")
        assert read_env(tmp_path / f"epilog_slurmd.{name}") == dict(
            node, SLURMD_NODENAME=name, SLURM_SCRIPT_CONTEXT="epilog_slurmd", **exit_codes)
    assert read_env(tmp_path / "prolog_slurmctld.") == dict(
        controller, SLURM_SCRIPT_CONTEXT="prolog_slurmctld")
    assert read_env(tmp_path / "epilog_slurmctld.") == dict(
        controller, SLURM_SCRIPT_CONTEXT="epilog_slurmctld", **exit_codes)


def test_node_hooks_see_the_host_ids_of_the_gpus_on_their_node(make_instance, make_script,
                                                               tmp_path):
    """T10: a GPU job's prolog and epilog get the GPU variables with the node's own ids;
    the controller hooks get none."""
    dump = make_script("dump", f"env > {tmp_path}/$SLURM_SCRIPT_CONTEXT\n")
    config = tmp_path / "corral.toml"
    config.write_text(f"""
[prep]
prolog = "{dump}"
epilog = "{dump}"
prolog-slurmctld = "{dump}"

[[resource.config]]
hosts = "gpu0"
cores = "0-3"
gpus = "0-3"
""")
    instance = make_instance(config=config)
    with instance.client() as client:
        first = client.submit(jobspec.build(["sleep", "30"], gpus_per_task=1, cwd="/tmp"))
        wait(client, first, "start")
        second = client.submit(jobspec.build(["true"], gpus_per_task=2, cwd="/tmp"))
        wait(client, second)
        gpus = {"CUDA_VISIBLE_DEVICES": "1,2", "GPU_DEVICE_ORDINAL": "1,2",
                "ROCR_VISIBLE_DEVICES": "1,2", "SLURM_JOB_GPUS": "1,2",
                "ZE_AFFINITY_MASK": "1,2"}
        # Read before the first job ends: its epilog would write the same file.
        for context in ("prolog_slurmd", "epilog_slurmd"):
            env = read_env(tmp_path / context)
            assert {name: env.get(name) for name in gpus} == gpus, context
        assert not set(gpus) & set(read_env(tmp_path / "prolog_slurmctld"))
        client.cancel(first)
