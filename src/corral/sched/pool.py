"""The resource pool: nodes with cores and GPUs, what is free, what is drained.

Free cores and GPUs are kept as bit masks over each node's id list, so taking or returning
resources is a few integer operations whatever the node size.  Drained nodes keep running
what they have but take nothing new.
"""

from dataclasses import dataclass

from .placement import Capacity, place, why_unsatisfiable


@dataclass(frozen=True)
class NodeSpec:
    """A node as configuration declares it."""

    name: str
    cores: tuple[int, ...]
    gpus: tuple[int, ...] = ()
    properties: tuple[str, ...] = ()


class Node:
    __slots__ = (
        "rank",
        "name",
        "properties",
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
        self.properties = frozenset(spec.properties)
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
    """The ``count`` lowest set bits of ``mask`` (all of them if it has fewer).  Free ids
    mostly come in runs, and a node may have hundreds of cores: a run is taken in one step,
    not a bit at a time."""
    taken = 0
    while count > 0 and mask:
        shift, run = _lowest_run(mask)
        bits = ((1 << min(run, count)) - 1) << shift
        taken |= bits
        mask ^= bits
        count -= run
    return taken


def _ids(mask: int, id_list: tuple[int, ...]) -> list[int]:
    """The ids of the set bits of ``mask``, a run of bits at a time (see `_take`)."""
    ids = []
    while mask:
        shift, run = _lowest_run(mask)
        ids += id_list[shift:shift + run]
        mask ^= ((1 << run) - 1) << shift
    return ids


def _lowest_run(mask: int) -> tuple[int, int]:
    """Where the lowest run of consecutive set bits of ``mask`` (not 0) starts, and its
    length."""
    shift = (mask & -mask).bit_length() - 1
    rest = mask >> shift
    return shift, (rest ^ (rest + 1)).bit_length() - 1


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
        sizes_cores = [len(node.core_ids) for node in self.nodes]
        sizes_gpus = [len(node.gpu_ids) for node in self.nodes]
        #: Every node whole and in service: what `feasible` asks of.
        self.whole_capacity = Capacity(sizes_cores, sizes_gpus, sizes_cores, sizes_gpus,
                                       list(range(len(self.nodes))))
        #: Drains and undrains so far: what is free changed outside the scheduler's hands.
        self.drains = 0

    def node_names(self) -> list[str]:
        return [node.name for node in self.nodes]

    # --- allocation -------------------------------------------------------------------

    def feasible(self, request, mask: int | None = None) -> bool:
        """Could the request ever be satisfied (on the ranks of ``mask``, when given), with
        every node free and in service?"""
        return place(request, self.whole_capacity, mask) is not None

    def why_unsatisfiable(self, request) -> str:
        """For a request `feasible` refused: what it asks and what the nodes have."""
        return why_unsatisfiable(request, self.whole_capacity)

    def capacity(self) -> Capacity:
        """What is free now, as counts; drained nodes offer nothing."""
        nodes = self.nodes
        cores = [0] * len(nodes)
        gpus = [0] * len(nodes)
        ranks = []
        for node in nodes:
            if node.drained or not node.free_cores:
                continue
            rank = node.rank
            cores[rank] = node.free_cores.bit_count()
            gpus[rank] = node.free_gpus.bit_count()
            ranks.append(rank)
        whole = self.whole_capacity
        return Capacity(cores, gpus, whole.cores, whole.gpus, ranks)

    def take(self, counts: dict) -> dict:
        """Take ``{rank: (cores, gpus)}`` (a placement on `capacity`): the lowest free ids of
        each node.  Returns the placement as ``{rank: (core mask, gpu mask)}``."""
        nodes = self.nodes
        placement = {}
        for rank, (ncores, ngpus) in counts.items():
            node = nodes[rank]
            core_mask = _take(node.free_cores, ncores)
            gpu_mask = _take(node.free_gpus, ngpus)
            node.free_cores &= ~core_mask
            node.free_gpus &= ~gpu_mask
            placement[rank] = (core_mask, gpu_mask)
        return placement

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
        self.drains += 1

    def undrain(self, rank: int):
        node = self.nodes[rank]
        node.drained = False
        self.drains += 1
        node.drain_reason = None
        node.drain_time = None
