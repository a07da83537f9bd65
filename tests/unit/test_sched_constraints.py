"""RFC 31 constraints as masks of ranks, and the ``--requires``/``--constraint`` syntax."""

import json

import pytest

from corral import config as config_module
from corral import jobspec
from corral.jobspec import requires
from corral.sched import NodeSpec, QueuePolicies, ResourcePool, Scheduler
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


@pytest.mark.parametrize("text", ["gpu", "gpu&^bigmem", "gpu|bigmem&^slow", "host:n[0,2]",
                                  "gpu&^host:n0", "rank:0-1|bigmem", "^rank:3"])
def test_a_constraint_is_described_as_it_would_be_typed(text):
    assert requires.describe(requires.parse(text)) == text


@pytest.mark.parametrize("constraint", [
    {"and": [{"or": [{"properties": ["a"]}, {"properties": ["b"]}]}]},
    {"not": [{"properties": ["a", "b"]}]},
    {"hostlist": ["n0", "n1"]},
])
def test_what_the_syntax_cannot_say_is_described_as_json(constraint):
    assert requires.describe(constraint) == json.dumps(constraint, separators=(",", ":"),
                                                       sort_keys=True)


QUEUES = """
[queues.debug]
requires = ["bigmem"]
[queues.batch]
nodes = "n[1,3]"
"""


@pytest.fixture
def scheduler(tmp_path):
    path = tmp_path / "queues.toml"
    path.write_text(QUEUES)
    return Scheduler(None, ResourcePool(NODES), None,
                     QueuePolicies.from_config(config_module.load(path)))


def _request(queue=None, requires_text=None):
    return jobspec.validate(jobspec.build(["true"], queue=queue, requires=requires_text))


@pytest.mark.parametrize("queue, text, refusal", [
    ("debug", "gpu", None),  # n0
    ("batch,debug", "^gpu", None),  # n2 (debug), n3 (batch)
    ("batch", None, None),  # no constraint: not this check's business
    ("debug", "nosuch", "constraint 'nosuch' matches no node; the nodes are n0 (bigmem, gpu), "
                        "n1 (gpu), n2 (bigmem), n3 (no properties)"),
    ("batch", "bigmem", "constraint 'bigmem' matches none of the nodes of queue batch, n1 "
                        "(gpu), n3 (no properties); it matches n0 (bigmem, gpu), n2 (bigmem)"),
    ("batch,debug", "host:n1&bigmem", "constraint 'bigmem&host:n1' matches no node; the nodes "
                                      "are n0 (bigmem, gpu), n1 (gpu), n2 (bigmem), n3 (no "
                                      "properties)"),
    ("debug", "host:n[1-2]&gpu", "constraint 'gpu&host:n[1-2]' matches none of the nodes of "
                                 "queue debug, n0 (bigmem, gpu), n2 (bigmem); it matches n1 "
                                 "(gpu)"),
])
def test_a_constraint_no_node_of_its_queues_matches_says_what_exists(scheduler, queue, text,
                                                                     refusal):
    assert scheduler.constraint_refusal(_request(queue, text)) == refusal


def test_a_malformed_constraint_is_refused_saying_where(scheduler):
    request = _request("debug")._replace(constraints={"propertees": ["gpu"]})
    assert scheduler.constraint_refusal(request).startswith(
        "constraints.propertees: unknown operator")
