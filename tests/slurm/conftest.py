"""Fixtures for the Slurm-compatible commands: a real instance and its commands on PATH,
as ``export PATH="$(corral slurm path):$PATH"`` sets them up."""

import os
import shutil
import subprocess

import pytest


class SlurmCommands:
    def __init__(self, instance, work_dir):
        self.instance = instance
        self.work_dir = str(work_dir)
        path = instance.corral("slurm", "path").stdout.strip()
        self.bin_dir = path
        self.env = dict(instance.env(), PATH=f"{path}:{os.environ['PATH']}")
        for name in [name for name in self.env if name.startswith("SLURM_")]:
            del self.env[name]

    def run(self, *argv, check=True, input=None, timeout=60, env=None, cwd=None):
        """Run a Slurm command found on PATH (``sbatch``, ``squeue``, ...)."""
        result = subprocess.run([str(arg) for arg in argv], env=dict(self.env, **(env or {})),
                                capture_output=True, text=True, input=input, timeout=timeout,
                                cwd=cwd or self.work_dir)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, argv))} exited {result.returncode}:\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def sbatch(self, *argv, input=None) -> int:
        return int(self.run("sbatch", "--parsable", *argv, input=input).stdout.strip())

    def wait(self, job_id, timeout=30):
        return self.instance.wait_inactive(job_id, timeout)

    def script(self, name, text) -> str:
        path = os.path.join(self.work_dir, name)
        with open(path, "w") as file:
            file.write(text)
        return path

    def read(self, name) -> str:
        with open(os.path.join(self.work_dir, name)) as file:
            return file.read()


@pytest.fixture
def slurm(make_slurm):
    return make_slurm()


@pytest.fixture
def make_slurm(make_instance, tmp_path):
    """``make_slurm(test_size=2)``: commands against an instance made with these options.
    The launcher directories (one per instance) are removed afterwards."""
    made = []

    def make(**options):
        work = tmp_path / f"work{len(os.listdir(tmp_path))}"
        work.mkdir()
        made.append(SlurmCommands(make_instance(**options), work))
        return made[-1]

    yield make
    for commands in made:
        shutil.rmtree(commands.bin_dir, ignore_errors=True)


