"""Slurm's ``--dependency`` lists as corral's RFC 26 dependencies.

``afterok:12:13,afterany:14`` becomes ``afterok:12``, ``afterok:13`` and ``afterany:14``
(``.dependency-after``); ``after`` means "after it started" (``afterstart``); ``singleton``
is ``.dependency-singleton``'s.  A job id names a corral job, ``A_3`` one task of array
``A`` and a bare array id every task of it, as in Slurm.  corral's dependencies all must hold,
so the ``?`` (any of) form, ``aftercorr``, ``afterburstbuffer`` and ``+time`` delays are
refused with a sentence naming them.
"""

from .options import OptionError

_SCHEMES = {"after": "afterstart", "afterany": "afterany", "afterok": "afterok",
            "afternotok": "afternotok"}
_REFUSED = ("aftercorr", "afterburstbuffer")


def parse(text: str) -> list[tuple[str, str]]:
    """``(corral scheme, Slurm job id text)`` pairs of a dependency list; ``singleton``
    gives ``("singleton", "")``."""
    if "?" in text:
        raise OptionError(f"--dependency={text}: '?' (any of the dependencies) is not "
                          "supported by corral, whose dependencies must all be satisfied")
    pairs = []
    for item in text.split(","):
        item = item.strip()
        if item == "singleton":
            pairs.append(("singleton", ""))
            continue
        kind, _colon, ids = item.partition(":")
        if kind in _REFUSED:
            raise OptionError(f"--dependency: '{kind}' is not supported by corral")
        if kind not in _SCHEMES or not ids:
            raise OptionError(f"invalid dependency specification: {text}")
        for job_id in ids.split(":"):
            if "+" in job_id:
                raise OptionError(f"--dependency: a delay ('{job_id}') is not supported by "
                                  "corral")
            if not job_id.replace("_", "", 1).isdigit():
                raise OptionError(f"invalid dependency specification: {text}")
            pairs.append((_SCHEMES[kind], job_id))
    return pairs


def to_rfc26(pairs, resolve) -> list[str]:
    """RFC 26 strings for ``pairs``; ``resolve(text)`` gives the corral ids a Slurm id
    names (one job, or every task of an array)."""
    result = []
    for scheme, job_id in pairs:
        if scheme == "singleton":
            result.append("singleton:1")
            continue
        result.extend(f"{scheme}:{target}" for target in resolve(job_id))
    return result
