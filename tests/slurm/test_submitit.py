"""submitit's Slurm executor, unchanged, against corral's Slurm commands: it writes the
batch script (``--open-mode=append``, ``--signal=USR2@90``, ``--wckey``, an ``srun
--unbuffered`` step), submits with sbatch, polls sacct and cancels with scancel."""

import os
import time

import pytest
import submitit


@pytest.fixture
def executor(slurm, monkeypatch, tmp_path):
    """A `submitit.AutoExecutor` whose Slurm commands are corral's: submitit runs sbatch,
    sacct and scancel from its own environment."""
    for name, value in slurm.env.items():
        monkeypatch.setenv(name, value)
    for name in [name for name in os.environ if name.startswith("SLURM_")]:
        monkeypatch.delenv(name)
    # submitit caches the states of ended jobs by id, process-wide; each test's instance
    # numbers its jobs from 1 again.
    monkeypatch.setattr(submitit.SlurmJob, "watcher",
                        submitit.slurm.slurm.SlurmInfoWatcher(delay_s=600))
    made = submitit.AutoExecutor(folder=tmp_path / "submitit")
    assert made.cluster == "slurm"
    made.update_parameters(timeout_min=5, mem_gb=1)
    return made


def where(value):
    """Where the function ran, as submitit sees it, and a result."""
    env = submitit.JobEnvironment()
    print(f"running {value}", flush=True)
    return (env.job_id, env.global_rank, env.local_rank, env.num_tasks, env.hostnames,
            value * 2)


def fail(message):
    raise ValueError(message)


def test_submitit_runs_a_function_and_returns_its_result(executor):
    job = executor.submit(where, 21)
    job_id, rank, local_rank, ntasks, hosts, doubled = job.result()
    assert (job_id, rank, local_rank, ntasks, doubled) == (job.job_id, 0, 0, 1, 42)
    assert hosts == [os.uname().nodename]
    assert "running 21" in job.stdout()
    deadline = time.monotonic() + 10
    while job.state != "COMPLETED" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.state == "COMPLETED"


def test_submitit_job_array_gives_each_task_its_result(executor):
    executor.update_parameters(slurm_array_parallelism=2)
    jobs = executor.map_array(where, [1, 2, 3])
    array_id = jobs[0].job_id.split("_")[0]
    assert [job.job_id for job in jobs] == [f"{array_id}_{task}" for task in range(3)]
    results = [job.result() for job in jobs]
    assert [result[5] for result in results] == [2, 4, 6]
    assert len({result[0] for result in results}) == 3  # each task is a job of its own
    assert [job.stdout().count(f"running {value}") for value, job in enumerate(jobs, 1)] == \
        [1, 1, 1]


def test_submitit_failure_raises_in_the_caller(executor):
    job = executor.submit(fail, "no luck")
    with pytest.raises(submitit.core.utils.FailedJobError, match="no luck"):
        job.result()
    assert "ValueError: no luck" in job.exception().args[0]


def test_submitit_cancel_ends_the_job_as_cancelled(executor):
    job = executor.submit(time.sleep, 60)
    deadline = time.monotonic() + 10
    while job.state != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
    job.cancel()
    while not job.state.startswith("CANCELLED") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.state.startswith("CANCELLED")
    assert job.done()
