"""What an agent tells the controller when it connects: who it is and what it has.

``hostname`` (the node's name, matched against the node's key and the declared nodes),
``version`` (corral's; the controller refuses another), ``boot_id`` (new each time the agent
process starts, so the controller tells a restarted agent, whose tasks are gone, from one that
only reconnected), and the node's ``cores`` (the CPUs this agent may use, from
``sched_getaffinity``) and ``gpus`` (NVIDIA device nodes ``/dev/nvidiaN``, else NVIDIA and
AMD display devices under ``/sys/class/drm``).
"""

import os
import re
import socket
import uuid
from dataclasses import dataclass

from .. import __version__

#: PCI vendor ids of GPU makers whose cards run compute jobs (NVIDIA, AMD).
GPU_VENDORS = frozenset({"0x10de", "0x1002"})


@dataclass(frozen=True)
class Registration:
    hostname: str
    version: str
    boot_id: str
    cores: tuple[int, ...]
    gpus: tuple[int, ...]

    def to_wire(self) -> dict:
        return {"hostname": self.hostname, "version": self.version, "boot_id": self.boot_id,
                "cores": list(self.cores), "gpus": list(self.gpus)}

    @classmethod
    def from_wire(cls, value) -> "Registration":
        """The registration in a hello frame; ValueError (one sentence) if malformed."""
        if not isinstance(value, dict):
            raise ValueError("the registration is not an object")
        fields = {}
        for name in ("hostname", "version", "boot_id"):
            text = value.get(name)
            if not isinstance(text, str) or not text:
                raise ValueError(f"the registration has no {name}")
            fields[name] = text
        for name in ("cores", "gpus"):
            ids = value.get(name)
            if not isinstance(ids, list) or not all(
                    isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids):
                raise ValueError(f"the registration's {name} is not a list of ids")
            fields[name] = tuple(ids)
        return cls(**fields)


def this_node(hostname: str | None = None) -> Registration:
    """This process's registration, with a fresh boot id (``hostname``: override the
    machine's name, as ``--hostname`` does)."""
    return Registration(
        hostname=hostname or socket.gethostname(),
        version=__version__,
        boot_id=uuid.uuid4().hex,
        cores=tuple(sorted(os.sched_getaffinity(0))),
        gpus=tuple(gpu_ids()),
    )


def gpu_ids(dev: str = "/dev", sysfs: str = "/sys") -> list[int]:
    """The node's GPUs by index: NVIDIA device nodes if any, else compute-capable cards in
    ``/sys/class/drm`` (virtual and integrated display adapters are not GPUs for jobs)."""
    nvidia = _numbered(dev, re.compile(r"nvidia(\d+)"))
    if nvidia:
        return nvidia
    drm = os.path.join(sysfs, "class", "drm")
    cards = []
    for index in _numbered(drm, re.compile(r"card(\d+)")):
        try:
            with open(os.path.join(drm, f"card{index}", "device", "vendor")) as file:
                vendor = file.read().strip()
        except OSError:
            continue
        if vendor in GPU_VENDORS:
            cards.append(index)
    return cards


def _numbered(directory: str, pattern) -> list[int]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(int(match[1]) for match in map(pattern.fullmatch, names) if match)
