"""RFC 31 constraints, and the nodes of queues, as masks of ranks.

A job may run only on the ranks whose bit is set in its mask: the nodes its constraints
(``attributes.system.constraints``) match, within the nodes of its queue.  Masks are integers,
so restricting a placement is a bit test per node, and a mask is worked out once per distinct
constraint, not once per job or per pass.

Operators (RFC 31): ``properties`` (every listed property, ``^name`` for its absence),
``hostlist`` (a node named by any of the hostlists), ``ranks`` (a rank in any of the idsets),
``and``, ``or``, and ``not`` (no node matching all of its constraints).  Several operators in
one object must all hold; ``{}`` matches every node.

`nodes_described` says what nodes there are, for a job told that its constraints match none.
"""

import json

from .. import hostlist, idset


def nodes_described(nodes, mask: int) -> str:
    """The nodes of ``mask`` grouped by their properties, in one phrase: ``n[0-1] (gpu,
    bigmem), n[2-3] (no properties)``."""
    groups: dict[tuple, list[str]] = {}
    for node in nodes:
        if mask >> node.rank & 1:
            groups.setdefault(tuple(sorted(node.properties)), []).append(node.name)
    return ", ".join(f"{hostlist.compress(names)} ({', '.join(properties) or 'no properties'})"
                     for properties, names in groups.items())


class ConstraintError(ValueError):
    """A constraint that is not RFC 31; ``str()`` says where."""


class RankMasks:
    """Masks over one pool's nodes, cached by constraint."""

    def __init__(self, nodes):
        self.names = {node.name: node.rank for node in nodes}
        self.count = len(nodes)
        self.every = (1 << self.count) - 1
        self.by_property: dict[str, int] = {}
        for node in nodes:
            for name in node.properties:
                self.by_property[name] = self.by_property.get(name, 0) | (1 << node.rank)
        self._cache: dict[str, int] = {}

    def of(self, constraint) -> int:
        """The mask of the ranks ``constraint`` matches; ConstraintError if it is malformed."""
        key = json.dumps(constraint, sort_keys=True)
        mask = self._cache.get(key)
        if mask is None:
            mask = self._cache[key] = self._match(constraint, "constraints")
        return mask

    def _match(self, constraint, where) -> int:
        if not isinstance(constraint, dict):
            raise ConstraintError(f"{where}: expected an object")
        mask = self.every
        for operator, values in constraint.items():
            inner = f"{where}.{operator}"
            if not isinstance(values, list):
                raise ConstraintError(f"{inner}: expected an array")
            if operator == "properties":
                mask &= self._properties(values, inner)
            elif operator == "hostlist":
                mask &= self._hostlist(values, inner)
            elif operator == "ranks":
                mask &= self._ranks(values, inner)
            elif operator == "and":
                for index, value in enumerate(values):
                    mask &= self._match(value, f"{inner}[{index}]")
            elif operator == "or":
                union = 0
                for index, value in enumerate(values):
                    union |= self._match(value, f"{inner}[{index}]")
                mask &= union
            elif operator == "not":
                both = self.every
                for index, value in enumerate(values):
                    both &= self._match(value, f"{inner}[{index}]")
                mask &= self.every & ~both
            else:
                raise ConstraintError(f"{inner}: unknown operator (expected properties, "
                                      f"hostlist, ranks, and, or, not)")
        return mask

    def _properties(self, values, where) -> int:
        mask = self.every
        for value in values:
            if not isinstance(value, str) or value in ("", "^"):
                raise ConstraintError(f"{where}: expected property names")
            if value.startswith("^"):
                mask &= ~self.by_property.get(value[1:], 0)
            else:
                mask &= self.by_property.get(value, 0)
        return mask

    def _hostlist(self, values, where) -> int:
        mask = 0
        for value in values:
            try:
                names = hostlist.expand(value)
            except (ValueError, TypeError):
                raise ConstraintError(f"{where}: {value!r} is not a hostlist") from None
            for name in names:
                rank = self.names.get(name)
                if rank is not None:
                    mask |= 1 << rank
        return mask

    def _ranks(self, values, where) -> int:
        mask = 0
        for value in values:
            try:
                ranks = idset.decode(value)
            except (ValueError, TypeError):
                raise ConstraintError(f"{where}: {value!r} is not an idset") from None
            for rank in ranks:
                if rank < self.count:
                    mask |= 1 << rank
        return mask
