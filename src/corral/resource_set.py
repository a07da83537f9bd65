"""RFC 20 R version 1: the resource set a job was given.

Builds R from a per-rank allocation, reads it back, and prints the one-line summary Flux's
schedulers put in ``alloc`` annotations (``rank[0-1]/core[0-3]``).
"""

from . import hostlist, idset


def build(allocation: dict, node_names: list[str], starttime: float, expiration: float) -> dict:
    """R for ``allocation`` = ``{rank: (core ids, gpu ids)}``."""
    groups: dict[tuple, list[int]] = {}
    for rank in sorted(allocation):
        cores, gpus = allocation[rank]
        groups.setdefault((tuple(cores), tuple(gpus)), []).append(rank)
    r_lite = []
    for (cores, gpus), ranks in groups.items():
        children = {"core": idset.encode(cores)}
        if gpus:
            children["gpu"] = idset.encode(gpus)
        r_lite.append({"rank": idset.encode(ranks), "children": children})
    if len(r_lite) > 1:
        r_lite.sort(key=lambda item: idset.decode(item["rank"])[0])
    return {
        "version": 1,
        "execution": {
            "R_lite": r_lite,
            "nodelist": [hostlist.compress(node_names[rank] for rank in sorted(allocation))],
            "starttime": starttime,
            "expiration": expiration,
        },
    }


def ranks_of(R: dict) -> dict[int, tuple[list[int], list[int]]]:
    """``{rank: (core ids, gpu ids)}`` from R."""
    result = {}
    for item in R["execution"]["R_lite"]:
        children = item["children"]
        cores = idset.decode(children.get("core", ""))
        gpus = idset.decode(children.get("gpu", ""))
        for rank in idset.decode(item["rank"]):
            result[rank] = (cores, gpus)
    return result


def nodelist(R: dict) -> str:
    return ",".join(R["execution"].get("nodelist", []))


def summary(R: dict) -> str:
    """``rank[0-1]/core[0-3],gpu0`` per group of identical ranks, space separated."""
    parts = []
    for item in R["execution"]["R_lite"]:
        children = item["children"]
        words = [_bracket("core", children["core"])]
        if children.get("gpu"):
            words.append(_bracket("gpu", children["gpu"]))
        parts.append(f"{_bracket('rank', item['rank'])}/{','.join(words)}")
    return " ".join(parts)


def _bracket(prefix: str, ids: str) -> str:
    if "," in ids or "-" in ids:
        return f"{prefix}[{ids}]"
    return f"{prefix}{ids}"
