"""Hostlists (RFC 29): expand, compress and their round trip."""

import random

import pytest

from corral import hostlist

MCR = (
    "mcr[336-359,488-550,553,556,559,561,567,569-571,573-575,578,581,584,587-589,592,594,"
    "597,600-602,605,608,610,618-622,627,634,636-670,687-696,699-733,735-742,744-760,762-773]"
)


@pytest.mark.parametrize(
    ("text", "hosts"),
    [  # the test vectors of RFC 29
        ("", []),
        ("foox,fooy,fooz", ["foox", "fooy", "fooz"]),
        ("[1-3,5-6]", ["1", "2", "3", "5", "6"]),
        ("foo[1-5]", ["foo1", "foo2", "foo3", "foo4", "foo5"]),
        ("foo[0-4]-eth2", ["foo0-eth2", "foo1-eth2", "foo2-eth2", "foo3-eth2", "foo4-eth2"]),
        ("foo1,foo1,foo1", ["foo1", "foo1", "foo1"]),
        ("[00-02]", ["00", "01", "02"]),
        ("[00-2]", ["00", "01", "02"]),
        ("foo[1,1,2,1]", ["foo1", "foo1", "foo2", "foo1"]),
    ],
)
def test_expand_follows_the_rfc_29_test_vectors(text, hosts):
    assert hostlist.expand(text) == hosts


def test_expand_keeps_the_order_of_expressions_and_ids():
    assert hostlist.expand("node[3,0-1],login1,node2") == [
        "node3", "node0", "node1", "login1", "node2",
    ]


def test_expand_zero_pads_each_range_to_the_width_of_its_low_bound():
    assert hostlist.expand("n[01-03]") == ["n01", "n02", "n03"]
    assert hostlist.expand("n[08-10,7]") == ["n08", "n09", "n10", "n7"]
    assert hostlist.expand("n[9-10]") == ["n9", "n10"]


def test_expand_does_not_split_at_commas_inside_brackets():
    assert hostlist.expand("a[1,2]b,c") == ["a1b", "a2b", "c"]


def test_expand_treats_whitespace_and_empty_expressions_as_separators_like_flux():
    assert hostlist.expand(" a,,b\tc, ") == ["a", "b", "c"]


def test_a_long_hostlist_expands_and_compresses_back_to_itself():
    assert len(hostlist.expand(MCR)) == 237
    assert hostlist.compress(hostlist.expand(MCR)) == MCR


@pytest.mark.parametrize(
    ("text", "problem"),
    [  # flux-core refuses each of these too
        ("[]", "empty brackets"),
        ("foo[]", "empty brackets"),
        ("foo[", "unbalanced brackets"),
        ("foo[1,3", "unbalanced brackets"),
        ("foo[[1,3]", "unbalanced brackets"),
        ("foo]", "unbalanced brackets"),
        ("foo[x-y]", "'x-y' is not a number or a range"),
        ("foo[0-1,2--5]", "'2--5' is not a number or a range"),
        ("foo[1,,2]", "'' is not a number or a range"),
        ("foo[3-1]", "range '3-1' is decreasing"),
        ("foo[0-1048576]", "range '0-1048576' has more than 1048576 hosts"),
        ("a[1]b[2]", "more than one bracketed idlist"),
        ("n[1, 2]", "whitespace inside brackets"),
    ],
)
def test_expand_rejects_malformed_hostlists(text, problem):
    with pytest.raises(ValueError) as caught:
        hostlist.expand(text)
    assert str(caught.value) == f"invalid hostlist '{text}': {problem}"


@pytest.mark.parametrize(
    ("hosts", "text"),
    [  # flux-core's encoder gives the same strings
        (["foo-1a-2", "foo-1a-3"], "foo-1a-[2-3]"),
        (["foo1", "foo2", "foo3", "fooi"], "foo[1-3],fooi"),
        (["foo1", "fooi", "foo2", "foo3"], "foo1,fooi,foo[2-3]"),
        (["fooi", "foo1", "foo2", "foo3", "foo5", "foo7", "foo8"], "fooi,foo[1-3,5,7-8]"),
        (["1", "2", "3", "4", "5", "9"], "[1-5,9]"),
        (["foo12", "foo4", "foo1", "foo2"], "foo[12,4,1-2]"),
        (["14636"], "14636"),
        ([], ""),
    ],
)
def test_compress_merges_runs_and_keeps_order(hosts, text):
    assert hostlist.compress(hosts) == text


def test_compress_leaves_a_single_host_plain():
    assert hostlist.compress(["node0"]) == "node0"


def test_compress_merges_zero_padded_runs():
    assert hostlist.compress(["n01", "n02", "n03"]) == "n[01-03]"
    assert hostlist.compress(["n008", "n009", "n010"]) == "n[008-010]"


def test_compress_joins_a_run_across_a_digit_boundary_only_without_padding():
    assert hostlist.compress(["n9", "n10", "n11"]) == "n[9-11]"
    assert hostlist.compress(["n9", "n010"]) == "n[9,010]"


def test_compress_keeps_hosts_of_different_width_apart():
    assert hostlist.compress(["n1", "n01"]) == "n[1,01]"


def test_compress_merges_names_with_a_common_suffix():
    assert hostlist.compress(["rack1-ib", "rack2-ib", "rack4-ib"]) == "rack[1-2,4]-ib"


def test_compress_keeps_duplicates():
    assert hostlist.compress(["foo1", "foo1", "foo2"]) == "foo[1,1-2]"


def test_compress_compresses_on_the_last_number_of_a_name():
    assert hostlist.compress(["r1n1", "r1n2", "r2n1"]) == "r1n[1-2],r2n1"


@pytest.mark.parametrize("bad_name", ["", "a b", "a,b", "a[1]", 7])
def test_compress_rejects_names_a_hostlist_cannot_hold(bad_name):
    with pytest.raises(ValueError) as caught:
        hostlist.compress(["ok", bad_name])
    assert str(caught.value) == (
        f"invalid host name {bad_name!r}: names must be non-empty, without brackets, commas "
        "or whitespace"
    )


def test_expand_of_compress_gives_back_the_hosts():
    generator = random.Random(29)
    prefixes = ["n", "node", "rack1-n", "", "x-"]
    suffixes = ["", "", "-ib", "p"]
    for _ in range(1000):
        hosts = []
        for _ in range(generator.randrange(0, 25)):
            number = generator.randrange(0, 120)
            width = generator.choice([0, 0, 2, 3])
            digits = f"{number:0{width}d}" if generator.random() < 0.9 else ""
            name = generator.choice(prefixes) + digits + generator.choice(suffixes)
            hosts.append(name or "login")
        assert hostlist.expand(hostlist.compress(hosts)) == hosts


def test_compress_of_expand_is_stable():
    for text in (MCR, "n[01-10]-ib,login[1-2]", "[0-20],45,12,015"):
        once = hostlist.compress(hostlist.expand(text))
        assert hostlist.compress(hostlist.expand(once)) == once
        assert hostlist.expand(once) == hostlist.expand(text)
