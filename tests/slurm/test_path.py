"""``corral slurm path``: a directory of launchers that only its user can change, which run
the commands without ``corral`` on PATH and reach the instance named when it was made."""

import os
import stat
import subprocess
import sys

from corral.slurm import launchers


def test_path_holds_every_command_and_each_runs_as_corral_slurm_name(slurm):
    assert sorted(os.listdir(slurm.bin_dir)) == sorted(launchers.COMMANDS)
    info = os.stat(slurm.bin_dir)
    assert info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    direct = slurm.instance.corral("slurm", "sinfo", "-h", "-o", "%P").stdout
    assert direct == slurm.run("sinfo", "-h", "-o", "%P").stdout == "default*\n"


def test_a_launcher_reaches_the_instance_named_when_the_directory_was_made(slurm):
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    result = subprocess.run([os.path.join(slurm.bin_dir, "squeue"), "-h"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_changed_launcher_is_rewritten_and_a_foreign_directory_refused(slurm, tmp_path):
    squeue = os.path.join(slurm.bin_dir, "squeue")
    with open(squeue, "a") as file:
        file.write("raise SystemExit(9)\n")
    slurm.instance.corral("slurm", "path")
    assert slurm.run("squeue", "-h").returncode == 0
    os.chmod(slurm.bin_dir, 0o777)
    try:
        result = slurm.instance.corral("slurm", "path", check=False)
        assert result.returncode == 1
        assert result.stderr == (f"corral slurm path: {slurm.bin_dir} exists but is not a "
                                 "directory that only this user can write\n")
    finally:
        os.chmod(slurm.bin_dir, 0o755)
    assert sys.executable in open(squeue).readline()


def _imports(argv, env=None, cwd=None) -> set[str]:
    result = subprocess.run([sys.executable, "-X", "importtime", *argv], env=env, cwd=cwd,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


def _imported_by(slurm, *argv) -> set[str]:
    """The modules a launcher imports while it runs ``argv``, beyond those any start of
    this interpreter imports (``site`` and what its ``.pth`` files load)."""
    launcher = os.path.join(slurm.bin_dir, argv[0])
    return (_imports([launcher, *argv[1:]], slurm.env, slurm.work_dir)
            - _imports(["-c", "pass"]))


def test_a_polled_squeue_and_a_plain_sbatch_import_only_what_they_use(slurm):
    """squeue is polled once a second: start-up is its whole cost (bench/latency.py)."""
    job_id = slurm.sbatch("--wrap", "true")
    slurm.wait(job_id)
    heavy = {"argparse", "socket", "datetime", "shlex", "hashlib", "tempfile", "corral.cli",
             "corral.jobspec", "corral.slurm.submission", "corral.slurm.launchers"}
    squeue = _imported_by(slurm, "squeue", "-t", "all")
    assert "corral.slurm.squeue" in squeue and "corral.client" in squeue
    assert squeue & heavy == set()
    sbatch = _imported_by(slurm, "sbatch", "--wrap", "true")
    assert "corral.slurm.submission" in sbatch
    assert sbatch & {"argparse", "socket", "hashlib", "corral.cli"} == set()
