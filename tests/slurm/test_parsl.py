"""Parsl's SlurmProvider, unchanged, against corral's Slurm commands: a block of
HighThroughputExecutor workers is an sbatch job (``--nodes``, ``--ntasks-per-node``,
``--time``, srun launching the workers), polled with sacct and cancelled with scancel."""

import operator
import os

import parsl
import pytest
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.launchers import SrunLauncher
from parsl.providers import SlurmProvider


@pytest.fixture
def on_path(slurm, monkeypatch):
    """Parsl runs sbatch, sacct and scancel from its own environment."""
    for name, value in slurm.env.items():
        monkeypatch.setenv(name, value)
    for name in [name for name in os.environ if name.startswith("SLURM_")]:
        monkeypatch.delenv(name)
    return slurm


def test_parsl_runs_apps_on_a_slurm_block(on_path, tmp_path):
    slurm = on_path

    # Functions of importable modules: Parsl sends them by name, and the workers (who
    # cannot import this test module) find them.
    getenv = parsl.python_app(os.getenv)
    square = parsl.python_app(operator.mul)
    provider = SlurmProvider(nodes_per_block=1, init_blocks=1, min_blocks=0, max_blocks=1,
                             walltime="00:05:00", launcher=SrunLauncher())
    config = Config(executors=[HighThroughputExecutor(label="corral", address="127.0.0.1",
                                                      max_workers_per_node=1,
                                                      provider=provider)],
                    run_dir=str(tmp_path / "runinfo"), strategy="none")
    with parsl.load(config):
        squares = [square(value, value) for value in range(5)]
        job_id = getenv("SLURM_JOB_ID").result(timeout=60)
        step = getenv("SLURM_STEP_ID").result(timeout=60)
        assert [each.result(timeout=60) for each in squares] == [0, 1, 4, 9, 16]
    # The block was one batch job whose workers srun started as its step 0; parsl's
    # cleanup cancelled it.
    assert step == "0"
    slurm.wait(int(job_id))
    rows = slurm.run("sacct", "-n", "-P", "-o", "JobID,State").stdout.splitlines()
    assert [row.split("|")[0] for row in rows] == [job_id, f"{job_id}.batch", f"{job_id}.0"]
    assert rows[0].split("|")[1] == f"CANCELLED by {os.getuid()}"
