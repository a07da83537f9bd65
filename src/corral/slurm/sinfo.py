"""``sinfo``: partitions (corral's queues, or the one ``default``) and their nodes' states,
grouped as Slurm groups them: one row per partition and node state (``-N``: per node).
``TIMELIMIT`` is the queue's duration limit (Slurm's partition ``MaxTime``)."""

import sys
import time

from .. import hostlist
from . import formats, options, run, times
from .options import Option
from .partitions import partitions

_OPTIONS = [
    Option("format", "o"), Option("Node", "N", takes_value=False),
    Option("noheader", "h", takes_value=False), Option("summarize", "s", takes_value=False),
    Option("partition", "p"), Option("long", "l", takes_value=False),
]
_DEFAULT = "%9P %.5a %.10l %.6D %.6t %N"
_NODES = "%N %.6D %9P %.6t"
#: ``-l``: Slurm's long views with the states spelt out, without the columns corral has no
#: values for (JOB_SIZE, ROOT, OVERSUBS, GROUPS; S:C:T, MEMORY, TMP_DISK, WEIGHT, ...).
_LONG = "%9P %.5a %.10l %.6D %.11T %N"
_LONG_NODES = "%N %.6D %9P %.11T %.4c"
_SUMMARY = "%9P %.5a %.10l %.16F  %N"
_LETTERS = {
    "P": ("PARTITION",), "a": ("AVAIL",), "l": ("TIMELIMIT",), "D": ("NODES",), "t": ("STATE",),
    "T": ("STATE",), "N": ("NODELIST",), "C": ("CPUS(A/I/O/T)",), "c": ("CPUS",),
    "G": ("GRES",), "F": ("NODES(A/I/O/T)",),
}
_COMPACT = {"idle": "idle", "mixed": "mix", "allocated": "alloc", "drained": "drain",
            "draining": "drng"}


def _state(node) -> str:
    if node["drained"]:
        return "drained" if node["free_cores"] == node["ncores"] else "draining"
    if node["free_cores"] == node["ncores"]:
        return "idle"
    return "allocated" if node["free_cores"] == 0 else "mixed"


def _parse(text):
    parts = []
    position = 0
    import re

    for match in re.finditer(r"%(\.?)(\d*)([A-Za-z])", text):
        if match.start() > position:
            parts.append(text[position:match.start()])
        right, width, letter = match.groups()
        if letter not in _LETTERS:
            raise formats.FormatError(f"Invalid node format specification: {letter}")
        parts.append((letter, _LETTERS[letter][0], int(width) if width else None, bool(right)))
        position = match.end()
    parts.append(text[position:])
    return parts


def _time_limit(queue) -> str:
    """``%l``: ``infinite``, or the limit as sinfo prints it (``10:00``, ``1-00:00:00``)."""
    limit = queue.get("duration_limit")
    return times.squeue_duration(limit) if limit else "infinite"


def _row(partition, default, queue, nodes, state):
    cores = sum(node["ncores"] for node in nodes)
    free = sum(node["free_cores"] for node in nodes if not node["drained"])
    other = sum(node["ncores"] for node in nodes if node["drained"])
    busy = sum(1 for node in nodes if _state(node) in ("allocated", "mixed"))
    idle = sum(1 for node in nodes if _state(node) == "idle")
    drained = sum(1 for node in nodes if node["drained"])
    gpus = max((node["ngpus"] for node in nodes), default=0)
    return {
        "P": partition + ("*" if default else ""),
        "a": "up" if queue["enabled"] and queue["started"] else "down",
        "l": _time_limit(queue), "D": str(len(nodes)), "t": _COMPACT.get(state, state),
        "T": state, "N": hostlist.compress(node["name"] for node in nodes),
        "C": f"{cores - free - other}/{free}/{other}/{cores}",
        "c": str(max(node["ncores"] for node in nodes)),
        "G": f"gpu:{gpus}" if gpus else "(null)",
        "F": f"{busy}/{idle}/{drained}/{len(nodes)}",
    }


def _main(argv) -> int:
    values, rest = options.parse("sinfo", argv, _OPTIONS)
    if rest:
        raise options.OptionError(f"unrecognized argument '{rest[0]}'")
    long = values.get("long")
    text = values.get("format") or (_SUMMARY if values.get("summarize") else
                                    (_LONG_NODES if long else _NODES) if values.get("Node")
                                    else _LONG if long else _DEFAULT)
    parts = _parse(text)
    from ..client import connect

    with connect() as client:
        listed = partitions(client)
    rows = []
    for index, (name, queue, members) in enumerate(listed):
        if values.get("partition") and name not in values["partition"].split(","):
            continue
        if values.get("summarize"):
            rows.append(_row(name, index == 0, queue, members, "idle"))
            continue
        if values.get("Node"):
            rows.extend(_row(name, index == 0, queue, [node], _state(node))
                        for node in members)
            continue
        by_state = {}
        for node in members:
            by_state.setdefault(_state(node), []).append(node)
        rows.extend(_row(name, index == 0, queue, members, state)
                    for state, members in by_state.items())
    lines = []
    if values.get("long") and not values.get("noheader"):
        lines.append(formats.date_line(time.time()))
    if not values.get("noheader"):
        lines.append("".join(part if isinstance(part, str) else formats.pad(part[1], part[2],
                                                                            part[3])
                             for part in parts))
    for row in rows:
        lines.append("".join(part if isinstance(part, str) else formats.pad(row[part[0]],
                                                                            part[2], part[3])
                             for part in parts))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def main(argv) -> int:
    return run("sinfo", _main, argv)
