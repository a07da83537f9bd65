"""Slurm's ``%`` filename patterns for ``-o``/``-e``/``-i`` (``slurm-%j.out``).

``%%`` a percent sign, ``%A`` the array's job id, ``%a`` the array task id, ``%J`` the
job id (with ``.step`` inside a step), ``%j`` the job id, ``%N`` the first node's short host
name, ``%n`` the node id relative to the job, ``%s`` the step id, ``%t`` the task id, ``%u``
the user name, ``%x`` the job name.  A number between ``%`` and the letter zero-pads the value
to that width (``%4a`` is ``0007``).  A path holding a backslash is taken literally, backslashes
removed, as Slurm does.  Letters Slurm does not know are kept as written.
"""

import re

LETTERS = "AaJjNnstux"
_PATTERN = re.compile(r"%(\d*)([%" + LETTERS + "])")


def expand(path: str, values: dict[str, object]) -> str:
    """``path`` with its patterns replaced by ``values`` (letter -> value)."""
    if "\\" in path:
        return path.replace("\\", "")

    def replace(match):
        width, letter = match.groups()
        if letter == "%":
            return "%"
        if letter not in values:
            return match.group(0)
        value = str(values[letter])
        return value.zfill(int(width)) if width else value

    return _PATTERN.sub(replace, path)


def per_task(path: str) -> bool:
    """Whether ``path`` names one file per task (``%t``): such files are the tasks' own."""
    return "\\" not in path and any(match.group(2) == "t" for match in _PATTERN.finditer(path))
