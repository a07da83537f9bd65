"""Where a job's output goes.

By default stdout and stderr are kept with the job in the instance's output directory
(``<id>.out``, ``<id>.err``), so ``corral job attach`` finds them during and after the run.
``-o``/``-e`` paths (with ``{{id}}`` and ``{{name}}`` templates, relative to the job's cwd)
replace them; with only ``-o``, stderr goes to the same file, as in Flux.
"""

import os


def paths(job_id: int, job_name: str | None, system: dict, output_dir: str):
    """``(stdout path, stderr path, user_given)`` for a job's ``attributes.system``."""
    output = system.get("shell", {}).get("options", {}).get("output", {})
    stdout = (output.get("stdout") or {}).get("path")
    stderr = (output.get("stderr") or {}).get("path")
    base = os.path.join(output_dir, str(job_id))
    if stdout is None and stderr is None:
        return base + ".out", base + ".err", False
    cwd = system.get("cwd") or "/"

    def expand(path):
        path = path.replace("{{id}}", str(job_id)).replace("{{name}}", job_name or "")
        return path if os.path.isabs(path) else os.path.join(cwd, path)

    stdout = expand(stdout) if stdout else base + ".out"
    stderr = expand(stderr) if stderr else stdout
    return stdout, stderr, True
