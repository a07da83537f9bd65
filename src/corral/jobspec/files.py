"""Jobspecs read from files: YAML or JSON (YAML is a superset)."""

import json
import os

from .validate import JobspecError, kind


def load(source: str | os.PathLike) -> dict:
    """Return the jobspec object in file ``source`` (YAML or JSON), or in ``source`` itself.

    A string holding a newline or starting with ``{`` is taken as the document, anything else as
    a path. Raises JobspecError naming the file when it cannot be read or parsed.
    """
    if isinstance(source, str) and ("\n" in source or source.lstrip().startswith("{")):
        label, text = "jobspec text", source
    else:
        label = os.fspath(source)
        try:
            with open(label, encoding="utf-8") as file:
                text = file.read()
        except OSError as exc:
            raise JobspecError(f"jobspec: {label}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise JobspecError(f"jobspec: {label}: not UTF-8 text") from None
    document = _parse_document(label, text)
    if not isinstance(document, dict):
        raise JobspecError(f"jobspec: {label}: must hold an object, got {kind(document)}")
    return document


def _parse_document(label: str, text: str) -> object:
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            pass  # YAML flow style also starts with "{"
    import yaml  # imported here: it costs start-up time and only --jobspec files need it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise JobspecError(f"jobspec: {label}: invalid YAML or JSON: {problem}{where}") from None
