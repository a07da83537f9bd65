"""Snakemake's Slurm executor (``snakemake-executor-plugin-slurm``), unchanged, against
corral's Slurm commands: each rule is an sbatch job (``-p`` the partition sinfo marks as the
default, ``--mem``, ``--comment``, ``--wrap``) whose Snakemake runs the rule with ``srun -n1
--cpu-bind=q``; sacct ``--clusters all --name RUN`` tells it when the jobs are over."""

import sys

SNAKEFILE = """
rule all:
    input: expand("out{n}.txt", n=[1, 2])

rule make:
    output: "out{n}.txt"
    shell: "echo $SLURM_JOB_ID $SLURM_STEP_ID > {output}"
"""


def test_snakemake_runs_each_rule_as_a_slurm_job(slurm):
    slurm.script("Snakefile", SNAKEFILE)
    # No account to check (corral has no sacctmgr); the first status check after 1 s,
    # not Snakemake's default 40.
    result = slurm.run(sys.executable, "-m", "snakemake", "--executor", "slurm", "-j", "2",
                       "--slurm-no-account", "--slurm-init-seconds-before-status-checks", "1",
                       "--default-resources", "runtime=5", "mem_mb=100", timeout=120)
    assert "3 of 3 steps (100%) done" in result.stderr
    outputs = [slurm.read(f"out{n}.txt").split() for n in (1, 2)]
    assert [step for _job, step in outputs] == ["0", "0"]  # srun made step 0 of each job
    job_ids = sorted(job for job, _step in outputs)
    rows = slurm.run("sacct", "-X", "-n", "-P", "-o", "JobID,State,Partition,Timelimit",
                     "-j", ",".join(job_ids)).stdout
    assert rows.splitlines() == [f"{job_id}|COMPLETED|default|00:05:00" for job_id in job_ids]
