"""Hostlists (Flux RFC 29): the compact ``prefix[idlist]suffix`` form of an ordered host list.

This module owns the conversion between hostlist strings such as ``"node[0-3,5],login1"`` and
ordered lists of host names. R's ``nodelist`` and ``[resource.config] hosts`` use it. It must not
resolve, sort or deduplicate names: a hostlist is an ordered list, and duplicates are kept.

Zero padding follows flux-core: each range keeps the width of its low bound, so ``"n[08-10]"``
is ``n08 n09 n10`` and ``"[00-2]"`` is ``00 01 02``. Commas, spaces and tabs outside brackets
separate expressions, and empty expressions are skipped, as flux-core's decoder does.
"""

import re
from collections.abc import Iterable

# flux-core refuses a single range of more hosts than this as a likely typo.
MAX_RANGE_SIZE = 1 << 20

_SEPARATORS = ", \t"
_FORBIDDEN_IN_NAME = frozenset("[], \t\n")
_NUMBERED_NAME = re.compile(r"(.*?)([0-9]+)([^0-9]*)")


def expand(text: str) -> list[str]:
    """Return the host names of hostlist ``text``, in order, duplicates kept.

    Raises ValueError naming the hostlist and what is wrong with it.
    """
    if not isinstance(text, str):
        raise ValueError(f"invalid hostlist {text!r}: expected a string")
    hosts: list[str] = []
    for expression in _split_expressions(text):
        opening = expression.find("[")
        if opening < 0:
            if "]" in expression:
                raise ValueError(f"invalid hostlist '{text}': unbalanced brackets")
            hosts.append(expression)
            continue
        closing = expression.find("]", opening)
        if closing < 0:
            raise ValueError(f"invalid hostlist '{text}': unbalanced brackets")
        prefix = expression[:opening]
        idlist = expression[opening + 1 : closing]
        suffix = expression[closing + 1 :]
        if "[" in suffix or "]" in suffix or "[" in idlist:
            raise ValueError(f"invalid hostlist '{text}': more than one bracketed idlist")
        if idlist == "":
            raise ValueError(f"invalid hostlist '{text}': empty brackets")
        for element in idlist.split(","):
            low_digits, high_digits = _parse_range(text, element)
            width = len(low_digits)
            hosts.extend(
                f"{prefix}{number:0{width}d}{suffix}"
                for number in range(int(low_digits), int(high_digits) + 1)
            )
    return hosts


def compress(hosts: Iterable[str]) -> str:
    """Return a compressed hostlist string for ``hosts``, keeping their order.

    Neighbouring names that differ only in their last number, with the same prefix and suffix,
    share one bracket, and consecutive numbers become ranges: ``node[0-3,7]``, ``rack[1-2]-ib``.
    A lone name stays plain (``node0``). Numbers keep their zero padding.
    """
    parts: list[str] = []
    group: tuple[str, str, list[list]] | None = None  # prefix, suffix, ranges
    for host in hosts:
        if not isinstance(host, str) or host == "" or not _FORBIDDEN_IN_NAME.isdisjoint(host):
            raise ValueError(
                f"invalid host name {host!r}: names must be non-empty, without brackets, "
                "commas or whitespace"
            )
        numbered = _NUMBERED_NAME.fullmatch(host)
        if numbered is None:
            if group is not None:
                parts.append(_format_group(*group))
                group = None
            parts.append(host)
            continue
        prefix, digits, suffix = numbered.groups()
        number = int(digits)
        if group is not None and group[0] == prefix and group[1] == suffix:
            last_range = group[2][-1]
            if number == last_range[2] + 1 and f"{number:0{len(last_range[0])}d}" == digits:
                last_range[2] = number
            else:
                group[2].append([digits, number, number])
            continue
        if group is not None:
            parts.append(_format_group(*group))
        group = (prefix, suffix, [[digits, number, number]])
    if group is not None:
        parts.append(_format_group(*group))
    return ",".join(parts)


def _split_expressions(text: str) -> list[str]:
    """Split ``text`` at separators that are not inside brackets."""
    expressions = []
    start = 0
    depth = 0
    for position, character in enumerate(text):
        if character == "[":
            depth += 1
        elif character == "]":
            depth -= 1
        elif character in _SEPARATORS and depth == 0:
            expressions.append(text[start:position])
            start = position + 1
        elif character in " \t" and depth > 0:
            raise ValueError(f"invalid hostlist '{text}': whitespace inside brackets")
    if depth != 0:
        raise ValueError(f"invalid hostlist '{text}': unbalanced brackets")
    expressions.append(text[start:])
    return [expression for expression in expressions if expression]


def _parse_range(text: str, element: str) -> tuple[str, str]:
    """Return the low and high digit strings of idlist element ``element``."""
    low_digits, dash, high_digits = element.partition("-")
    if not dash:
        high_digits = low_digits
    for digits in (low_digits, high_digits):
        if not (digits.isascii() and digits.isdigit()):
            raise ValueError(f"invalid hostlist '{text}': '{element}' is not a number or a range")
    size = int(high_digits) - int(low_digits) + 1
    if size < 1:
        raise ValueError(f"invalid hostlist '{text}': range '{element}' is decreasing")
    if size > MAX_RANGE_SIZE:
        raise ValueError(
            f"invalid hostlist '{text}': range '{element}' has more than {MAX_RANGE_SIZE} hosts"
        )
    return low_digits, high_digits


def _format_group(prefix: str, suffix: str, ranges: list[list]) -> str:
    """Format names sharing prefix and suffix; each range is [low digits, low, high]."""
    if len(ranges) == 1 and ranges[0][1] == ranges[0][2]:
        return f"{prefix}{ranges[0][0]}{suffix}"
    body = ",".join(_format_range(*one_range) for one_range in ranges)
    return f"{prefix}[{body}]{suffix}"


def _format_range(low_digits: str, low: int, high: int) -> str:
    if low == high:
        return low_digits
    return f"{low_digits}-{high:0{len(low_digits)}d}"
