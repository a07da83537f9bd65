"""The directory ``corral slurm path`` prints: one launcher script per Slurm command.

Each launcher is a three-line Python script whose ``#!`` line names the interpreter that
made it and which puts the corral that made it first on ``sys.path``, so ``sbatch`` found on
``PATH`` runs the same corral as ``corral slurm sbatch`` would, without a shell in between or
the ``corral`` command's own argument parsing (squeue is polled once a second: start-up
cost is its whole cost).  The directory is made under the system's temporary directory, one
per user, interpreter and corral location; it must belong to the user and be writable by no
one else, and is remade when missing or stale (a launcher changed by anyone is rewritten).
The same start-up line runs the in-job helper (`python_command`).

A launcher drives the instance named by ``CORRAL_URI`` when it runs; without one, the instance
that ``CORRAL_URI`` named when the directory was made (tools such as PSI/J run the commands
with a cleaned environment), so the directory is one per instance too.
"""

import os
import sys

#: The commands the directory holds (each a module of this package).
COMMANDS = ("sbatch", "srun", "squeue", "scancel", "sacct", "sinfo", "scontrol", "salloc",
            "sshare")


def _corral_root() -> str:
    """The directory that holds the ``corral`` package in use."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _start_line(module: str) -> str:
    return (f"import sys; sys.path.insert(0, {_corral_root()!r}); "
            f"from corral.slurm.{module} import main; sys.exit(main(sys.argv[1:]))")


def python_command(module: str, *arguments: str) -> list[str]:
    """argv that runs ``corral.slurm.<module>.main`` with this interpreter and corral."""
    return [sys.executable, "-c", _start_line(module), *arguments]


def _script(command: str, uri: str | None) -> str:
    lines = [f"#!{sys.executable} -s", "import sys"]
    if uri:
        lines += ["import os", f"os.environ.setdefault('CORRAL_URI', {uri!r})"]
    lines += [f"sys.path.insert(0, {_corral_root()!r})",
              f"from corral.slurm.{command} import main",
              "sys.exit(main(sys.argv[1:]))"]
    return "\n".join(lines) + "\n"


def bin_dir() -> str:
    """The launchers' directory, made or repaired as needed.  Raises OSError when a
    directory of that name exists but is not safely ours."""
    # Here, not at the top: every sbatch and srun imports this module for `python_command`.
    import hashlib
    import stat
    import tempfile

    uri = os.environ.get("CORRAL_URI")
    identity = f"{sys.executable}\0{_corral_root()}\0{uri or ''}"
    key = hashlib.sha256(identity.encode()).hexdigest()[:12]
    path = os.path.join(tempfile.gettempdir(), f"corral-slurm-{os.getuid()}-{key}")
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()
            or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        raise OSError(f"{path} exists but is not a directory that only this user can write")
    for command in COMMANDS:
        target = os.path.join(path, command)
        text = _script(command, uri)
        try:
            with open(target) as file:
                if file.read() == text:
                    continue
        except OSError:
            pass
        temporary = f"{target}.{os.getpid()}"
        with open(temporary, "w") as file:
            file.write(text)
        os.chmod(temporary, 0o755)
        os.replace(temporary, target)
    return path
