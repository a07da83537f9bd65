"""The resource service: list nodes, drain and undrain them.

A drained node keeps running what it has but is given nothing new; drains survive a restart
(they are kept in the store) and carry a reason and the time they were set, as
``flux resource drain`` and Slurm's drain reasons do.
"""

import errno
import time

from . import hostlist, idset
from .broker.message import RequestError
from .broker.roles import ROLE_OWNER, ROLE_USER

_DRAIN_KEY = "resource.drain"


class ResourceService:
    def __init__(self, pool, scheduler, store):
        self.pool = pool
        self.scheduler = scheduler
        self.store = store
        for name, (reason, timestamp) in (store.kv_get(_DRAIN_KEY, {}) or {}).items():
            node = pool.by_name.get(name)
            if node is not None:
                pool.drain(node.rank, reason, timestamp)

    def register_services(self, broker):
        broker.register("resource.list", self.serve_list, ROLE_OWNER | ROLE_USER)
        broker.register("resource.drain", self.serve_drain, ROLE_OWNER)
        broker.register("resource.undrain", self.serve_undrain, ROLE_OWNER)

    def ranks(self, targets) -> list[int]:
        """Ranks named by a hostlist (``node[0-1]``) or an idset of ranks (``0-1``)."""
        if not isinstance(targets, str) or not targets:
            raise RequestError(errno.EPROTO, "targets must be a hostlist or an idset of ranks")
        try:
            ranks = idset.decode(targets)
        except ValueError:
            try:
                names = hostlist.expand(targets)
            except ValueError as exc:
                raise RequestError(errno.EINVAL, str(exc)) from None
            ranks = None
        if ranks is None:
            ranks = []
            for name in names:
                node = self.pool.by_name.get(name)
                if node is None:
                    raise RequestError(errno.ENOENT, f"unknown node '{name}'")
                ranks.append(node.rank)
        for rank in ranks:
            if not 0 <= rank < len(self.pool.nodes):
                raise RequestError(errno.ENOENT, f"no node has rank {rank}")
        return ranks

    def drain(self, ranks, reason: str, update_reason=True):
        now = time.time()
        for rank in ranks:
            self.pool.drain(rank, reason, now, update_reason)
        self._save()

    def _save(self):
        self.store.kv_set(_DRAIN_KEY, {
            node.name: [node.drain_reason, node.drain_time]
            for node in self.pool.nodes if node.drained
        })

    def serve_list(self, msg):
        nodes = []
        for node in self.pool.nodes:
            nodes.append({
                "rank": node.rank,
                "name": node.name,
                "cores": idset.encode(node.core_ids),
                "gpus": idset.encode(node.gpu_ids),
                "free_cores": node.free_cores.bit_count(),
                "free_gpus": node.free_gpus.bit_count(),
                "ncores": len(node.core_ids),
                "ngpus": len(node.gpu_ids),
                "properties": sorted(node.properties),
                "drained": node.drained,
                "reason": node.drain_reason,
                "timestamp": node.drain_time,
            })
        msg.respond({"nodes": nodes})

    def serve_drain(self, msg):
        request = msg.payload_object()
        reason = request.get("reason") or ""
        if not isinstance(reason, str):
            raise RequestError(errno.EPROTO, "reason must be a string")
        self.drain(self.ranks(request.get("targets")), reason,
                   request.get("mode") != "update-if-unset")
        msg.respond({})

    def serve_undrain(self, msg):
        request = msg.payload_object()
        ranks = self.ranks(request.get("targets"))
        not_drained = [self.pool.nodes[rank].name for rank in ranks
                       if not self.pool.nodes[rank].drained]
        if not_drained:
            raise RequestError(errno.EINVAL,
                               f"{hostlist.compress(not_drained)}: not drained")
        for rank in ranks:
            self.pool.undrain(rank)
        self._save()
        self.scheduler.resources_changed()
        msg.respond({})
