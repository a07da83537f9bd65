"""Where a request fits, in numbers of cores and GPUs per node.

Cores of one node are interchangeable, so whether and where a request fits depends only on how
many cores and GPUs each node has free (and, for an exclusive request, whether the node is
whole).  The scheduler reasons on these counts, now and in the future; the pool turns a
placement into actual core and GPU ids only when a job starts.  Nodes are tried in rank order,
lowest first, so the same counts always give the same placement.
"""


class Capacity:
    """Free cores and GPUs per rank (lists indexed by rank), and the nodes' full sizes.

    ``ranks`` lists, in order, the ranks that may have something free; a placement looks at
    those only, so a busy machine with few free nodes is cheap to search.  A placement
    restricted to a mask of ranks (a queue's nodes, a job's constraints) looks at
    `ranks_in` that mask, worked out once per mask while ``ranks`` stays the same.
    """

    __slots__ = ("cores", "gpus", "node_cores", "node_gpus", "ranks", "_masked")

    def __init__(self, cores, gpus, node_cores, node_gpus, ranks):
        self.cores = cores
        self.gpus = gpus
        self.node_cores = node_cores
        self.node_gpus = node_gpus
        self.ranks = ranks
        self._masked = None

    def set_ranks(self, ranks):
        self.ranks = ranks
        self._masked = None

    def ranks_in(self, mask: int) -> list:
        masked = self._masked
        if masked is None:
            masked = self._masked = {}
        ranks = masked.get(mask)
        if ranks is None:
            ranks = masked[mask] = [rank for rank in self.ranks if mask >> rank & 1]
        return ranks


def place(request, capacity: Capacity, mask: int | None = None) -> dict | None:
    """``{rank: (cores, gpus)}`` for ``request`` on ``capacity`` (only on the ranks of
    ``mask``, when given), or None if it does not fit."""
    ranks = capacity.ranks if mask is None else capacity.ranks_in(mask)
    cores_per_slot = request.cores_per_slot
    gpus_per_slot = request.gpus_per_slot
    free_cores, free_gpus = capacity.cores, capacity.gpus
    placement = {}
    nnodes = request.nnodes
    if nnodes == 0:
        remaining = request.nslots
        for rank in ranks:
            fit = free_cores[rank] // cores_per_slot
            if gpus_per_slot:
                fit = min(fit, free_gpus[rank] // gpus_per_slot)
            if fit <= 0:
                continue
            slots = min(fit, remaining)
            placement[rank] = (slots * cores_per_slot, slots * gpus_per_slot)
            remaining -= slots
            if remaining == 0:
                return placement
        return None
    base, extra = divmod(request.nslots, nnodes)
    node_cores, node_gpus = capacity.node_cores, capacity.node_gpus
    for rank in ranks:
        share = base + 1 if len(placement) < extra else base
        cores, gpus = share * cores_per_slot, share * gpus_per_slot
        if request.exclusive:
            whole_cores, whole_gpus = node_cores[rank], node_gpus[rank]
            if (free_cores[rank] != whole_cores or free_gpus[rank] != whole_gpus
                    or whole_cores < cores or whole_gpus < gpus):
                continue
            placement[rank] = (whole_cores, whole_gpus)
        else:
            if free_cores[rank] < cores or free_gpus[rank] < gpus:
                continue
            placement[rank] = (cores, gpus)
        if len(placement) == nnodes:
            return placement
    return None



def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _size(cores: int, gpus: int) -> str:
    return _count(cores, "core") + (f" and {_count(gpus, 'GPU')}" if gpus else "")


def why_unsatisfiable(request, whole: Capacity) -> str:
    """What ``request`` asks that no node, or not all the nodes together, can give, in one
    sentence (``4 cores per node requested; the largest node has 2``).  Only for a request
    that `place` refused on ``whole`` (every node free): it walks every node."""
    node_cores, node_gpus = whole.node_cores, whole.node_gpus
    nodes = len(node_cores)
    largest = {"core": max(node_cores, default=0), "GPU": max(node_gpus, default=0)}
    if request.nnodes:
        if request.nnodes > nodes:
            return f"{_count(request.nnodes, 'node')} requested; the instance has {nodes}"
        share = -(-request.nslots // request.nnodes)  # slots on the fullest node
        cores, gpus = share * request.cores_per_slot, share * request.gpus_per_slot
        unit = "per node"
    else:
        cores, gpus = request.cores_per_slot, request.gpus_per_slot
        unit = "per slot"
    for wanted, noun in ((cores, "core"), (gpus, "GPU")):
        if wanted > largest[noun]:
            return (f"{_count(wanted, noun)} {unit} requested; the largest node has "
                    f"{largest[noun]}")
    if request.nnodes:
        big = sum(1 for rank in range(nodes)
                  if node_cores[rank] >= cores and node_gpus[rank] >= gpus)
        return (f"{_count(request.nnodes, 'node')} of {_size(cores, gpus)} requested; "
                f"{big} of the {nodes} nodes {'has' if big == 1 else 'have'} that much")
    fits = 0
    for rank in range(nodes):
        slots = node_cores[rank] // cores
        fits += min(slots, node_gpus[rank] // gpus) if gpus else slots
    return (f"{_count(request.nslots, 'slot')} of {_size(cores, gpus)} requested; the "
            f"{_count(nodes, 'node')} {'holds' if nodes == 1 else 'hold'} {fits}")
