"""Idset strings (Flux RFC 22): a compact text form for a set of non-negative integer ids.

This module owns the conversion between idset strings such as ``"0-3,5,7-8"`` and sorted lists
of ids. R (RFC 20) uses idsets for ranks, cores and gpus, and ``[resource.config]`` uses them in
the configuration. It must not know what the ids stand for.

Decoding is stricter than flux-core's ``idset_decode`` where RFC 22 says an idset is malformed
(decreasing ranges, leading zeros, empty elements) and as lenient where RFC 22 is silent: ids may
come in any order and may repeat, since the result is a set.
"""

from collections.abc import Iterable


def decode(text: str) -> list[int]:
    """Return the sorted, unique ids of idset ``text`` (``"[0-2,5]"`` -> ``[0, 1, 2, 5]``).

    Raises ValueError naming the idset and the element at fault.
    """
    if not isinstance(text, str):
        raise ValueError(f"invalid idset {text!r}: expected a string")
    body = text
    if body.startswith("[") and body.endswith("]") and len(body) >= 2:
        body = body[1:-1]
    if body == "":
        return []
    if "[" in body or "]" in body:
        raise ValueError(f"invalid idset '{text}': unbalanced brackets")
    ranges = []
    for element in body.split(","):
        low_text, dash, high_text = element.partition("-")
        low = _decode_id(text, element, low_text)
        high = _decode_id(text, element, high_text) if dash else low
        if high < low:
            raise ValueError(f"invalid idset '{text}': range '{element}' is decreasing")
        ranges.append((low, high))
    if all(ranges[i][1] < ranges[i + 1][0] for i in range(len(ranges) - 1)):
        # The usual case (what encode() writes): already ascending and disjoint.
        ids: list[int] = []
        for low, high in ranges:
            ids.extend(range(low, high + 1))
        return ids
    unique: set[int] = set()
    for low, high in ranges:
        unique.update(range(low, high + 1))
    return sorted(unique)


def encode(ids: Iterable[int]) -> str:
    """Return the compressed idset string of ``ids`` (``[0, 1, 2, 5]`` -> ``"0-2,5"``).

    Consecutive ids become ``low-high`` ranges, as flux-core prints them; duplicates are dropped.
    """
    if type(ids) is list and ids:
        first, last = ids[0], ids[-1]
        if type(first) is int and 0 <= first and type(last) is int and \
                last - first == len(ids) - 1 and ids == list(range(first, last + 1)) and \
                {int}.issuperset(map(type, ids)):
            return _format_run(first, last)  # a list that is one run already, R's usual
    unique = set(ids)
    if not unique:
        return ""
    # Checked at C speed first (R holds every core of a job): the loop only names the id.
    if not {int}.issuperset(map(type, unique)) or min(unique) < 0:
        for one_id in unique:
            if type(one_id) is not int or one_id < 0:
                raise ValueError(f"invalid id {one_id!r}: ids must be non-negative integers")
    ordered = sorted(unique)
    if ordered[-1] - ordered[0] == len(ordered) - 1:
        return _format_run(ordered[0], ordered[-1])  # one run, the usual case
    parts = []
    run_start = run_end = None
    for one_id in ordered:
        if run_end is not None and one_id == run_end + 1:
            run_end = one_id
            continue
        if run_start is not None:
            parts.append(_format_run(run_start, run_end))
        run_start = run_end = one_id
    if run_start is not None:
        parts.append(_format_run(run_start, run_end))
    return ",".join(parts)


def count(text: str) -> int:
    """Return how many ids idset ``text`` holds."""
    return len(decode(text))


def _decode_id(text: str, element: str, digits: str) -> int:
    if digits == "":
        what = "empty element" if element == "" else f"'{element}' is not an id or a range"
        raise ValueError(f"invalid idset '{text}': {what}")
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"invalid idset '{text}': '{digits}' is not a non-negative integer")
    if len(digits) > 1 and digits[0] == "0":
        raise ValueError(f"invalid idset '{text}': '{digits}' has a leading zero")
    return int(digits)


def _format_run(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}-{end}"
