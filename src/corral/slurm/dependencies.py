"""Slurm's ``--dependency`` lists as corral's RFC 26 dependencies.

``afterok:12:13,afterany:14`` becomes ``afterok:12``, ``afterok:13`` and ``afterany:14``
(``.dependency-after``); ``after`` means "after it started" (``afterstart``); ``singleton``
is ``.dependency-singleton``'s.  A job id names a corral job, ``A_3`` one task of array
``A`` and a bare array id every task of it, as in Slurm.  A ``?`` list (any of its items
satisfied is enough) becomes one ``anyof`` dependency of ``.dependency-after``; in it an id
must name one job (an array task as ``A_3``), since "every task of A" is not one item.
``aftercorr``, ``afterburstbuffer`` and ``+time`` delays are refused with a sentence naming
them, and so is a list that mixes ``,`` and ``?``, as in Slurm.

`shown` turns a job's outstanding dependencies back into Slurm's words, as scontrol's
``Dependency=`` and squeue's ``%E`` print them: ``afterok:12(unfulfilled)``.
"""

from .options import OptionError

_SCHEMES = {"after": "afterstart", "afterany": "afterany", "afterok": "afterok",
            "afternotok": "afternotok"}
_REFUSED = ("aftercorr", "afterburstbuffer")


#: The scheme of a ``?`` list: its pairs are the value.
ANY_OF = "anyof"


def parse(text: str) -> list[tuple]:
    """``(corral scheme, Slurm job id text)`` pairs of a dependency list; ``singleton``
    gives ``("singleton", "")`` and a ``?`` list one ``(ANY_OF, pairs)``."""
    if "?" in text:
        if "," in text:
            raise OptionError(f"invalid dependency specification: {text} (a list is "
                              "separated by ',' or by '?', not both)")
        pairs = _pairs(text, "?")
        if ("singleton", "") in pairs:
            raise OptionError(f"invalid dependency specification: {text} (singleton "
                              "cannot be one of a '?' list)")
        return [(ANY_OF, pairs)]
    return _pairs(text, ",")


def _pairs(text: str, separator: str) -> list[tuple[str, str]]:
    pairs = []
    for item in text.split(separator):
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
            if not job_id.replace("_", "", 1).isdecimal():
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
        elif scheme == ANY_OF:
            result.append(f"{ANY_OF}:" + ",".join(_one(member_scheme, member_id, resolve)
                                                  for member_scheme, member_id in job_id))
        else:
            result.extend(f"{scheme}:{target}" for target in resolve(job_id))
    return result


def _one(scheme: str, job_id: str, resolve) -> str:
    targets = resolve(job_id)
    if len(targets) != 1:
        raise OptionError(f"--dependency: {job_id} is an array of {len(targets)} tasks; in a "
                          f"'?' list name one of them ({job_id}_N)")
    return f"{scheme}:{targets[0]}"


#: The type a dependency's RFC 26 description starts with -> Slurm's (``afterexcept`` is
#: corral's own, from ``corral submit``).
_SHOWN = {"after-start": "after", "after-finish": "afterany", "after-success": "afterok",
          "after-failure": "afternotok", "after-exception": "afterexcept"}


def shown(descriptions, slurm_id) -> str:
    """Slurm's text of outstanding dependencies (``.dependency-after``'s
    ``after-success=12`` is ``afterok:12(unfulfilled)``), ``,``-separated and ``?`` within an
    any-of list; ``(null)`` for none.  ``slurm_id(corral id)`` is the job id to show
    (``12_3`` for an array task), or None to leave that one out.  ``begin-time`` is left
    out: Slurm shows ``--begin`` as the reason only."""
    items = [text for text in (_item(description, slurm_id) for description in descriptions)
             if text]
    return ",".join(items) or "(null)"


def _item(description: str, slurm_id) -> str | None:
    if description == "singleton":
        return "singleton(unfulfilled)"
    kind, _equals, value = description.partition("=")
    if kind == "any-of":
        members = [text for text in (_item(member, slurm_id) for member in value.split(","))
                   if text]
        return "?".join(members) or None
    if kind == "begin-time":
        return None
    if kind not in _SHOWN:
        return f"{description}(unfulfilled)"  # another plugin's: as it describes itself
    job_id = slurm_id(int(value)) if value.isdecimal() else value
    return None if job_id is None else f"{_SHOWN[kind]}:{job_id}(unfulfilled)"
