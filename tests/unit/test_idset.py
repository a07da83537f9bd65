"""Idset strings (RFC 22): decode, encode and their round trip."""

import random

import pytest

from corral import idset


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("0-3,5,7-8", [0, 1, 2, 3, 5, 7, 8]),
        ("[0-3]", [0, 1, 2, 3]),
        ("", []),
        ("[]", []),
        ("42", [42]),
        ("0", [0]),
        ("1-1", [1]),
        ("100-102,4096", [100, 101, 102, 4096]),
    ],
)
def test_decode_expands_ranges_into_sorted_ids(text, ids):
    assert idset.decode(text) == ids


def test_decode_accepts_ids_out_of_order_and_repeated_as_a_set():
    assert idset.decode("5,1-3,2,5") == [1, 2, 3, 5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3-1", "invalid idset '3-1': range '3-1' is decreasing"),
        ("1,,2", "invalid idset '1,,2': empty element"),
        ("1,", "invalid idset '1,': empty element"),
        ("a", "invalid idset 'a': 'a' is not a non-negative integer"),
        ("01", "invalid idset '01': '01' has a leading zero"),
        ("1-", "invalid idset '1-': '1-' is not an id or a range"),
        ("-1", "invalid idset '-1': '-1' is not an id or a range"),
        ("1-2-3", "invalid idset '1-2-3': '2-3' is not a non-negative integer"),
        ("[0-3", "invalid idset '[0-3': unbalanced brackets"),
        ("0 1", "invalid idset '0 1': '0 1' is not a non-negative integer"),
        ("²", "invalid idset '²': '²' is not a non-negative integer"),
    ],
)
def test_decode_rejects_malformed_idsets_naming_the_element(text, message):
    with pytest.raises(ValueError) as caught:
        idset.decode(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("ids", "text"),
    [
        ([0, 1, 2, 3, 5], "0-3,5"),
        ([], ""),
        ([7], "7"),
        ([0, 1], "0-1"),
        ([5, 3, 4, 3, 9], "3-5,9"),
        (range(0, 256), "0-255"),
        (list(range(10, 47)), "10-46"),
        ([0, 2, 1, 3], "0-3"),
        ([3, 1, 2, 3], "1-3"),
        ([0, 1, 2, 2], "0-2"),
    ],
)
def test_encode_compresses_consecutive_ids_into_ranges(ids, text):
    assert idset.encode(ids) == text


@pytest.mark.parametrize("bad_id", [-1, 1.5, "3", True])
def test_encode_rejects_ids_that_are_not_non_negative_integers(bad_id):
    with pytest.raises(ValueError) as caught:
        idset.encode([0, bad_id])
    assert str(caught.value) == f"invalid id {bad_id!r}: ids must be non-negative integers"


@pytest.mark.parametrize("ids", [[0, 1.0, 2], [0, True, 2], [1.0, 2, 3], [0, 1, 2.0]])
def test_encode_rejects_what_equals_a_run_of_ids_without_being_ints(ids):
    with pytest.raises(ValueError):
        idset.encode(ids)


def test_count_is_the_number_of_unique_ids():
    assert idset.count("[0-3,5,3]") == 5


def test_decode_of_encode_is_the_sorted_unique_ids():
    generator = random.Random(22)
    for _ in range(500):
        ids = [generator.randrange(0, 64) for _ in range(generator.randrange(0, 30))]
        text = idset.encode(ids)
        assert idset.decode(text) == sorted(set(ids))
        assert idset.decode(f"[{text}]") == sorted(set(ids))


def test_encode_of_decode_gives_back_a_canonical_idset():
    generator = random.Random(23)
    for _ in range(500):
        canonical = idset.encode(generator.sample(range(80), generator.randrange(0, 40)))
        assert idset.encode(idset.decode(canonical)) == canonical
