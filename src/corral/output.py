"""Where a job's output goes.

By default stdout and stderr are kept with the job in the instance's output directory
(``<id>.out``, ``<id>.err``), so ``corral job attach`` finds them during and after the run.
``-o``/``-e`` paths (with ``{{id}}`` and ``{{name}}`` templates, relative to the job's
working directory, `work_dir`)
replace them; with only ``-o``, stderr goes to the same file, as in Flux.  Files kept with
the job hold only what came through its tasks' pipes; paths the user named are opened with
the user's rights, by the agent for writing and by ``corral job attach`` for reading.
With ``--label-io`` every line starts with its task's rank (``0: hello``), wherever it goes.
"""

import os

from . import identity


def work_dir(system: dict, userid: int) -> str:
    """The directory a job's tasks start in and its relative output paths are read from:
    ``attributes.system.cwd``, else its user's home directory."""
    return system.get("cwd") or identity.home(userid)


def kept_paths(job_id: int, output_dir: str, step: int | None = None) -> tuple[str, str]:
    """Where the instance keeps a job's stdout and stderr when the user named no file (and
    those of its step ``step``: ``<id>.<step>.out``)."""
    base = os.path.join(output_dir, str(job_id) if step is None else f"{job_id}.{step}")
    return base + ".out", base + ".err"


def remove_kept(output_dir: str, job_ids) -> int:
    """Remove the files kept with jobs ``job_ids`` and with their steps (``<id>.out``,
    ``<id>.<step>.err``, ...), as a purge must; the number removed.  One pass over the
    directory: which steps a job had is in its eventlog, already gone."""
    wanted = {str(job_id) for job_id in job_ids}
    removed = 0
    try:
        entries = os.scandir(output_dir)
    except FileNotFoundError:  # nothing was ever kept (a simulation)
        return 0
    with entries:
        for entry in entries:
            base, _dot, stream = entry.name.rpartition(".")
            if stream in ("out", "err") and base.partition(".")[0] in wanted:
                try:
                    os.unlink(entry.path)
                except FileNotFoundError:
                    continue
                removed += 1
    return removed


def paths(job_id: int, job_name: str | None, userid: int, system: dict, output_dir: str):
    """``(stdout path, stderr path, kept)`` for a job's ``attributes.system``; ``kept`` names
    the streams that go to the files kept with the job (with only ``-e``, stdout is kept while
    stderr goes to the user's file: each stream is opened with the rights it needs)."""
    output = system.get("shell", {}).get("options", {}).get("output", {})
    stdout = (output.get("stdout") or {}).get("path")
    stderr = (output.get("stderr") or {}).get("path")
    kept_stdout, kept_stderr = kept_paths(job_id, output_dir)
    if stdout is None and stderr is None:
        return kept_stdout, kept_stderr, KEPT_BOTH
    cwd = work_dir(system, userid)

    def expand(path):
        path = path.replace("{{id}}", str(job_id)).replace("{{name}}", job_name or "")
        return path if os.path.isabs(path) else os.path.join(cwd, path)

    if not stdout:
        return kept_stdout, expand(stderr), KEPT_STDOUT
    stdout = expand(stdout)
    return stdout, expand(stderr) if stderr else stdout, KEPT_NONE


def labelled(system: dict) -> bool:
    """Does each line of the job's output name its task (``--label-io``)?"""
    output = system.get("shell", {}).get("options", {}).get("output", {})
    return bool((output.get("stdout") or {}).get("label"))


#: The ``kept`` answers of `paths`.
KEPT_BOTH = ("stdout", "stderr")
KEPT_STDOUT = ("stdout",)
KEPT_NONE = ()
