"""Partitions as sinfo and scontrol show them: corral's queues (or the one ``default``), each
with the nodes it owns (all of them unless the queue's ``requires`` or ``nodes`` say
otherwise)."""

from .. import idset
from . import DEFAULT_PARTITION


def partitions(client) -> list[tuple[str, dict, list]]:
    """``(name, queue status, nodes)`` for each queue, in configuration order; nodes as
    ``resource.list`` gives them."""
    nodes = client.rpc("resource.list")["nodes"]
    result = []
    for queue in client.rpc("job-manager.queue-status", {})["queues"]:
        members = nodes
        if "ranks" in queue:
            owned = set(idset.decode(queue["ranks"]))
            members = [node for node in nodes if node["rank"] in owned]
        result.append((queue["name"] or DEFAULT_PARTITION, queue, members))
    return result
