"""Memory sizes as Slurm reads and prints them (``--mem``, ``--mem-per-cpu``, squeue's
``%m``, sacct's ``ReqMem``).  corral records them and does not schedule memory."""

import re

#: Slurm's str_to_mbytes: megabytes, or a K, M, G or T suffix, with or without a B
#: (``1GB``, which submitit writes).
SIZE = re.compile(r"(\d+)([KMGT]?)B?", re.IGNORECASE)
_KILOBYTES_PER = {"K": 1, "": 1024, "M": 1024, "G": 1024 ** 2, "T": 1024 ** 3}


def megabytes(text: str) -> int:
    """``text`` (a valid size) in megabytes, kilobytes rounded up, as Slurm counts them."""
    number, unit = SIZE.fullmatch(text).groups()
    return -(-int(number) * _KILOBYTES_PER[unit.upper()] // 1024)


def shown(megs: int) -> str:
    """``megs`` megabytes in the largest unit that holds them whole (``1G``, ``1536M``), as
    Slurm's listings print a request; ``0`` when none was made."""
    for unit, size in (("T", 1024 ** 2), ("G", 1024)):
        if megs and megs % size == 0:
            return f"{megs // size}{unit}"
    return f"{megs}M" if megs else "0"
