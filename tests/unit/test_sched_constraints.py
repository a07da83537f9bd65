"""RFC 31 constraints as masks of ranks, and the ``--requires``/``--constraint`` syntax."""

import pytest

from corral.jobspec import requires
from corral.sched import NodeSpec, ResourcePool
from corral.sched.constraints import ConstraintError, RankMasks

#: n0 gpu+bigmem, n1 gpu, n2 bigmem, n3 nothing.
NODES = [NodeSpec("n0", (0,), properties=("gpu", "bigmem")),
         NodeSpec("n1", (0,), properties=("gpu",)),
         NodeSpec("n2", (0,), properties=("bigmem",)),
         NodeSpec("n3", (0,))]


def ranks(mask) -> list[int]:
    return [rank for rank in range(len(NODES)) if mask >> rank & 1]


@pytest.fixture
def masks():
    return RankMasks(ResourcePool(NODES).nodes)


@pytest.mark.parametrize("constraint, expected", [
    ({}, [0, 1, 2, 3]),
    ({"properties": ["gpu"]}, [0, 1]),
    ({"properties": ["gpu", "bigmem"]}, [0]),
    ({"properties": ["^gpu"]}, [2, 3]),
    ({"properties": ["nosuch"]}, []),
    ({"hostlist": ["n[1-2]"]}, [1, 2]),
    ({"ranks": ["0,3"]}, [0, 3]),
    ({"or": [{"properties": ["gpu"]}, {"hostlist": ["n3"]}]}, [0, 1, 3]),
    ({"and": [{"properties": ["bigmem"]}, {"not": [{"hostlist": ["n0"]}]}]}, [2]),
    ({"not": [{"properties": ["gpu"]}, {"properties": ["bigmem"]}]}, [1, 2, 3]),
    ({"properties": ["gpu"], "ranks": ["1-3"]}, [1]),
])
def test_constraints_match_the_nodes_rfc_31_says(masks, constraint, expected):
    assert ranks(masks.of(constraint)) == expected


@pytest.mark.parametrize("constraint, message", [
    ({"property": ["gpu"]}, "constraints.property: unknown operator"),
    ({"properties": "gpu"}, "constraints.properties: expected an array"),
    ({"or": [{"properties": [3]}]}, "constraints.or[0].properties: expected property names"),
    ({"hostlist": ["n[0-"]}, "constraints.hostlist: 'n[0-' is not a hostlist"),
    ([], "constraints: expected an object"),
])
def test_a_malformed_constraint_says_where(masks, constraint, message):
    with pytest.raises(ConstraintError) as caught:
        masks.of(constraint)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("text, constraint", [
    ("gpu", {"properties": ["gpu"]}),
    ("gpu&bigmem", {"properties": ["gpu", "bigmem"]}),
    ("gpu,bigmem", {"properties": ["gpu", "bigmem"]}),
    ("^slow", {"properties": ["^slow"]}),
    ("gpu|bigmem", {"or": [{"properties": ["gpu"]}, {"properties": ["bigmem"]}]}),
    ("host:n[0,2]", {"hostlist": ["n[0,2]"]}),
    ("gpu&!host:n0", {"properties": ["gpu"], "and": [{"not": [{"hostlist": ["n0"]}]}]}),
    ("rank:0-1|bigmem", {"or": [{"ranks": ["0-1"]}, {"properties": ["bigmem"]}]}),
])
def test_requires_text_becomes_rfc_31(masks, text, constraint):
    assert requires.parse(text) == constraint
    masks.of(constraint)  # and the scheduler reads it


@pytest.mark.parametrize("text, message", [
    ("", "--requires: expected a constraint such as 'gpu&bigmem'"),
    ("gpu&", "--requires: empty term in 'gpu&'"),
    ("node:n0", "--requires: unknown term 'node:' (expected host: or rank:)"),
    ("rank:x", "--requires: 'x' is not a set of ranks"),
])
def test_bad_requires_text_is_one_sentence(text, message):
    with pytest.raises(ValueError) as caught:
        requires.parse(text)
    assert str(caught.value) == message
