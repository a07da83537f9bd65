"""``--requires`` and Slurm's ``--constraint``: a line of text to an RFC 31 constraint.

``gpu&bigmem`` (or ``gpu,bigmem``) needs both properties, ``a|b`` either (``&`` binds tighter
than ``|``), ``^gpu`` or ``!gpu`` a node without it; ``host:node[0-3]`` and ``rank:0-3`` name
nodes.  No parentheses: an OR of ANDs says everything these options are used for.
`describe` writes an RFC 31 object back in this syntax, for messages about it.
"""

import json

from .. import hostlist, idset


def parse(text: str, option: str = "--requires") -> dict:
    """The RFC 31 object ``text`` says; ValueError naming ``option`` if it says nothing
    sensible."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{option}: expected a constraint such as 'gpu&bigmem'")
    alternatives = [_all_of(group, option) for group in _split(text, "|")]
    return alternatives[0] if len(alternatives) == 1 else {"or": alternatives}


def _all_of(text: str, option: str) -> dict:
    properties, others = [], []
    for term in (part for piece in _split(text, "&") for part in _split(piece, ",")):
        term = term.strip()
        inverted = term[:1] in ("^", "!")
        if inverted:
            term = term[1:]
        if not term:
            raise ValueError(f"{option}: empty term in '{text}'")
        kind, _, value = term.partition(":") if ":" in term else ("", "", term)
        if kind == "host":
            try:
                hostlist.expand(value)
            except ValueError:
                raise ValueError(f"{option}: '{value}' is not a hostlist") from None
            others.append(_negated({"hostlist": [value]}, inverted))
        elif kind == "rank":
            try:
                idset.decode(value)
            except ValueError:
                raise ValueError(f"{option}: '{value}' is not a set of ranks") from None
            others.append(_negated({"ranks": [value]}, inverted))
        elif kind:
            raise ValueError(f"{option}: unknown term '{kind}:' (expected host: or rank:)")
        else:
            properties.append("^" + value if inverted else value)
    constraint = {}
    if properties:
        constraint["properties"] = properties
    if len(others) == 1 and not properties:
        return others[0]
    if others:
        constraint["and"] = others
    return constraint


def describe(constraint) -> str:
    """``constraint`` as `parse` would read it (``gpu&^bigmem|host:n[0-3]``), or as compact
    JSON when it says what this syntax cannot (an OR inside an AND, a NOT of several)."""
    try:
        if isinstance(constraint, dict) and set(constraint) == {"or"}:
            return "|".join(_describe_all_of(part) for part in constraint["or"])
        return _describe_all_of(constraint)
    except (AttributeError, TypeError, ValueError):
        return json.dumps(constraint, separators=(",", ":"), sort_keys=True)


def _describe_all_of(constraint: dict) -> str:
    """One AND group of `describe`; ValueError for what the syntax cannot say."""
    terms = []
    for operator, values in constraint.items():
        if operator == "properties":
            terms.extend(str(value) for value in values)
        elif operator == "and":
            terms.extend(_describe_all_of(value) for value in values)
        elif operator in ("hostlist", "ranks") and len(values) == 1:
            terms.append(f"{'host' if operator == 'hostlist' else 'rank'}:{values[0]}")
        elif operator == "not" and len(values) == 1:
            inner = _describe_all_of(values[0])
            if "&" in inner or inner.startswith("^"):
                raise ValueError(inner)
            terms.append("^" + inner)
        else:
            raise ValueError(operator)
    if not terms or any("|" in term for term in terms):
        raise ValueError(constraint)
    return "&".join(terms)


def _negated(constraint: dict, inverted: bool) -> dict:
    return {"not": [constraint]} if inverted else constraint


def _split(text: str, separator: str) -> list[str]:
    """``text`` cut at ``separator`` outside brackets (hostlists and idsets hold commas)."""
    parts, depth, start = [], 0, 0
    for index, character in enumerate(text):
        if character == "[":
            depth += 1
        elif character == "]":
            depth -= 1
        elif character == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts
