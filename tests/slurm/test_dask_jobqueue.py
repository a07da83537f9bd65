"""dask-jobqueue's SLURMCluster, unchanged, against corral's Slurm commands: each worker is
an sbatch job of the script it writes (``#SBATCH -J``, ``-n 1``, ``--cpus-per-task``,
``--mem``, ``-t``), and closing the cluster scancels them."""

import os

import pytest
from dask_jobqueue import SLURMCluster
from distributed import Client


@pytest.fixture
def on_path(slurm, monkeypatch):
    """dask-jobqueue runs sbatch and scancel from its own environment."""
    for name, value in slurm.env.items():
        monkeypatch.setenv(name, value)
    for name in [name for name in os.environ if name.startswith("SLURM_")]:
        monkeypatch.delenv(name)
    return slurm


def test_slurm_cluster_workers_are_jobs_that_compute_and_are_cancelled(on_path, tmp_path):
    slurm = on_path
    with SLURMCluster(cores=1, memory="1GB", processes=1, walltime="00:05:00",
                      log_directory=str(tmp_path), job_name="dask-worker",
                      scheduler_options={"host": "127.0.0.1"}) as cluster:
        assert "#SBATCH --mem=954M" in cluster.job_script()
        cluster.scale(2)
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=60)
            total = client.submit(sum, client.map(lambda x: x * x, range(10))).result()
            on_jobs = sorted(client.run(lambda: os.environ["SLURM_JOB_ID"]).values())
        job_ids = sorted(job.job_id for job in cluster.workers.values())
    assert total == 285
    assert on_jobs == job_ids  # one worker in each job
    for job_id in job_ids:
        slurm.wait(int(job_id))
    rows = slurm.run("sacct", "-X", "-n", "-P", "-o", "JobID,JobName,AllocCPUS,Timelimit,State",
                     *[f"-j{job_id}" for job_id in job_ids]).stdout
    assert rows.splitlines() == [f"{job_id}|dask-worker|1|00:05:00|CANCELLED by {os.getuid()}"
                                 for job_id in job_ids]
