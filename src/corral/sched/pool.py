"""The resource pool: nodes with cores and GPUs, what is free, what is drained.

Free cores and GPUs are kept as bit masks over each node's id list, so taking or returning
resources is a few integer operations whatever the node size.  Drained nodes keep running
what they have but take nothing new.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeSpec:
    """A node as configuration declares it."""

    name: str
    cores: tuple[int, ...]
    gpus: tuple[int, ...] = ()


class Node:
    __slots__ = (
        "rank",
        "name",
        "core_ids",
        "gpu_ids",
        "all_cores",
        "all_gpus",
        "free_cores",
        "free_gpus",
        "drained",
        "drain_reason",
        "drain_time",
    )

    def __init__(self, rank: int, spec: NodeSpec):
        self.rank = rank
        self.name = spec.name
        self.core_ids = tuple(sorted(spec.cores))
        self.gpu_ids = tuple(sorted(spec.gpus))
        self.all_cores = (1 << len(self.core_ids)) - 1
        self.all_gpus = (1 << len(self.gpu_ids)) - 1
        self.free_cores = self.all_cores
        self.free_gpus = self.all_gpus
        self.drained = False
        self.drain_reason = None
        self.drain_time = None

    def idle(self) -> bool:
        return self.free_cores == self.all_cores and self.free_gpus == self.all_gpus


def _take(mask: int, count: int) -> int:
    """The ``count`` lowest set bits of ``mask``."""
    taken = 0
    for _ in range(count):
        low = mask & -mask
        taken |= low
        mask ^= low
    return taken


def _ids(mask: int, id_list: tuple[int, ...]) -> list[int]:
    ids = []
    while mask:
        low = mask & -mask
        ids.append(id_list[low.bit_length() - 1])
        mask ^= low
    return ids


def _mask(ids, id_list: tuple[int, ...]) -> int:
    position = {value: index for index, value in enumerate(id_list)}
    mask = 0
    for value in ids:
        mask |= 1 << position[value]
    return mask


class ResourcePool:
    """All nodes of the instance, by rank."""

    def __init__(self, specs: list[NodeSpec]):
        self.nodes = [Node(rank, spec) for rank, spec in enumerate(specs)]
        self.by_name = {node.name: node for node in self.nodes}

    def node_names(self) -> list[str]:
        return [node.name for node in self.nodes]

    # --- allocation -------------------------------------------------------------------

    def feasible(self, request) -> bool:
        """Could the request ever be satisfied, with every node free and in service?"""
        return self._place(request, use_free=False) is not None

    def allocate(self, request) -> dict | None:
        """Take resources for ``request``: ``{rank: (core mask, gpu mask)}``, or None."""
        placement = self._place(request, use_free=True)
        if placement is None:
            return None
        nodes = self.nodes
        for rank, (core_mask, gpu_mask) in placement.items():
            node = nodes[rank]
            node.free_cores &= ~core_mask
            node.free_gpus &= ~gpu_mask
        return placement

    def _place(self, request, use_free: bool) -> dict | None:
        cores_per_slot = request.cores_per_slot
        gpus_per_slot = request.gpus_per_slot
        nnodes = request.nnodes
        placement = {}
        if nnodes == 0:
            remaining = request.nslots
            for node in self.nodes:
                if use_free:
                    if node.drained:
                        continue
                    free_cores, free_gpus = node.free_cores, node.free_gpus
                else:
                    free_cores, free_gpus = node.all_cores, node.all_gpus
                fit = free_cores.bit_count() // cores_per_slot
                if gpus_per_slot:
                    fit = min(fit, free_gpus.bit_count() // gpus_per_slot)
                if fit <= 0:
                    continue
                slots = min(fit, remaining)
                placement[node.rank] = (
                    _take(free_cores, slots * cores_per_slot),
                    _take(free_gpus, slots * gpus_per_slot),
                )
                remaining -= slots
                if remaining == 0:
                    return placement
            return None
        base, extra = divmod(request.nslots, nnodes)
        shares = [base + 1] * extra + [base] * (nnodes - extra)
        for node in self.nodes:
            if use_free and node.drained:
                continue
            free_cores = node.free_cores if use_free else node.all_cores
            free_gpus = node.free_gpus if use_free else node.all_gpus
            if request.exclusive:
                if free_cores != node.all_cores or free_gpus != node.all_gpus:
                    continue
                share = shares[len(placement)]
                if node.all_cores.bit_count() < share * cores_per_slot or (
                    node.all_gpus.bit_count() < share * gpus_per_slot
                ):
                    continue
                placement[node.rank] = (node.all_cores, node.all_gpus)
            else:
                share = shares[len(placement)]
                if (free_cores.bit_count() < share * cores_per_slot
                        or free_gpus.bit_count() < share * gpus_per_slot):
                    continue
                placement[node.rank] = (
                    _take(free_cores, share * cores_per_slot),
                    _take(free_gpus, share * gpus_per_slot),
                )
            if len(placement) == nnodes:
                return placement
        return None

    def release(self, placement: dict, ranks=None):
        """Return the resources of ``placement`` (only ``ranks`` if given) to the pool."""
        nodes = self.nodes
        for rank in list(placement) if ranks is None else ranks:
            masks = placement.pop(rank, None)
            if masks is None:
                continue
            node = nodes[rank]
            node.free_cores |= masks[0]
            node.free_gpus |= masks[1]

    def reserve(self, allocation: dict) -> dict:
        """Mark ``{rank: (core ids, gpu ids)}`` as in use (jobs found running at restart)."""
        placement = {}
        for rank, (cores, gpus) in allocation.items():
            node = self.nodes[rank]
            core_mask = _mask(cores, node.core_ids)
            gpu_mask = _mask(gpus, node.gpu_ids)
            node.free_cores &= ~core_mask
            node.free_gpus &= ~gpu_mask
            placement[rank] = (core_mask, gpu_mask)
        return placement

    def ids(self, placement: dict) -> dict:
        """``{rank: (core ids, gpu ids)}`` of a placement."""
        nodes = self.nodes
        return {
            rank: (_ids(core_mask, nodes[rank].core_ids), _ids(gpu_mask, nodes[rank].gpu_ids))
            for rank, (core_mask, gpu_mask) in placement.items()
        }

    # --- drain --------------------------------------------------------------------------

    def drain(self, rank: int, reason: str, timestamp: float, update_reason=True):
        node = self.nodes[rank]
        if not node.drained or update_reason:
            node.drain_reason = reason
            node.drain_time = timestamp
        node.drained = True

    def undrain(self, rank: int):
        node = self.nodes[rank]
        node.drained = False
        node.drain_reason = None
        node.drain_time = None
