"""Jobspecs built from ``flux submit``-style options, and RFC 26 dependency strings."""

import datetime
import json
import math
import os
import re
import time
from collections.abc import Iterable, Mapping

from corral import fsd

from . import requires as requires_module
from .validate import fail, kind, validate


def build(
    command: Iterable[str],
    *,
    ntasks: int | None = None,
    nnodes: int | None = None,
    cores_per_task: int = 1,
    gpus_per_task: int = 0,
    exclusive: bool | None = None,
    duration: str | float | None = None,
    cwd: str | os.PathLike | None = None,
    environment: Mapping[str, str] | None = None,
    queue: str | None = None,
    requires: str | None = None,
    name: str | None = None,
    dependencies: Iterable[str | dict] = (),
    begin_time: str | float | datetime.datetime | None = None,
    output: str | os.PathLike | None = None,
    error: str | os.PathLike | None = None,
    label_io: bool = False,
    stdin: bool = False,
    setopt: Iterable[str] = (),
    setattr: Iterable[str] = (),
) -> dict:
    """Build a version 1 jobspec from ``flux submit``-style options, and validate it.

    ``-n ntasks -N nnodes -c cores_per_task -g gpus_per_task -x exclusive``: with ``nnodes`` and
    no ``ntasks``, one task runs per node and nodes are exclusive, as ``flux submit -N`` does;
    with both, tasks spread as evenly as slots allow (``total`` when uneven). ``duration`` is an
    FSD string or seconds (0 or None: unlimited). ``dependencies`` are RFC 26 strings or objects;
    ``begin_time`` (epoch seconds, ISO 8601 time or ``+FSD`` from now) adds a ``begin-time``
    dependency. ``requires`` is a constraint line (`requires.parse`). ``output``/``error`` are
    file paths, templates such as ``{{id}}`` kept verbatim. ``label_io`` prefixes each line of
    output with its task's rank (Flux's shell option ``output.{stdout,stderr}.label``).
    ``stdin`` gives task 0 a stdin that the submitter feeds (``job-exec.stdin``, as ``corral
    run`` does) instead of /dev/null. ``setopt`` holds shell options, ``KEY[=VAL]`` strings
    set under ``attributes.system.shell.options`` as ``--setopt`` (``-o``) does, and
    ``setattr`` ``KEY[=VAL]`` strings applied last, as ``--setattr`` does.
    """
    if isinstance(command, str) or not isinstance(command, Iterable):
        fail("command", "must be a non-empty list of strings")
    command = list(command)
    if not command or not all(type(argument) is str for argument in command):
        fail("command", "must be a non-empty list of strings")
    _check_option_count("ntasks", ntasks, minimum=1, optional=True)
    _check_option_count("nnodes", nnodes, minimum=1, optional=True)
    _check_option_count("cores_per_task", cores_per_task, minimum=1)
    _check_option_count("gpus_per_task", gpus_per_task, minimum=0)
    if exclusive is not None and type(exclusive) is not bool:
        fail("exclusive", f"must be a boolean, got {kind(exclusive)}")
    if ntasks is None:
        ntasks = nnodes or 1
        if nnodes and exclusive is None:
            exclusive = True
    if exclusive and not nnodes:
        fail("exclusive", "requires nnodes")
    if nnodes and nnodes > ntasks:
        fail("nnodes", f"must not exceed ntasks ({nnodes} > {ntasks})")

    resources, task_count = _build_resources(ntasks, nnodes, cores_per_task, gpus_per_task,
                                             exclusive)
    system: dict[str, object] = {"duration": _duration_seconds(duration)}
    if environment is not None:
        if not isinstance(environment, Mapping):
            fail("environment", f"must be a mapping, got {kind(environment)}")
        system["environment"] = dict(environment)
    if cwd is not None:
        system["cwd"] = _path_option("cwd", cwd)
    if queue is not None:
        system["queue"] = queue
    if requires is not None:
        try:
            system["constraints"] = requires_module.parse(requires)
        except ValueError as exc:
            fail("requires", str(exc).removeprefix("--requires: "))
    if name is not None:
        system["job"] = {"name": name}
    redirects = {}
    if output is not None:
        redirects["stdout"] = {"type": "file", "path": _path_option("output", output)}
    if error is not None:
        redirects["stderr"] = {"type": "file", "path": _path_option("error", error)}
    if label_io:
        for stream in ("stdout", "stderr"):
            redirects.setdefault(stream, {})["label"] = True
    shell_options = {}
    if redirects:
        shell_options["output"] = redirects
    if stdin:
        shell_options["input"] = {"stdin": {"type": "service"}}
    if shell_options:
        system["shell"] = {"options": shell_options}
    dependency_list = [_dependency_option(dependency) for dependency in dependencies]
    if begin_time is not None:
        dependency_list.append({"scheme": "begin-time", "value": str(_epoch(begin_time))})
    if dependency_list:
        system["dependencies"] = dependency_list

    jobspec = {
        "resources": resources,
        "tasks": [{"command": command, "slot": "task", "count": task_count}],
        "attributes": {"system": system},
        "version": 1,
    }
    for keyval in setopt:
        key, value = _key_value("setopt", keyval)
        _set_path(jobspec, ["attributes", "system", "shell", "options", *key.split(".")],
                  value, f"setopt '{keyval}'")
    for keyval in setattr:
        _apply_setattr(jobspec, keyval)
    validate(jobspec)
    return jobspec


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


_INTEGER = re.compile(r"[+-]?[0-9]+")


_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_dependency(text: str) -> dict:
    """Return the RFC 26 object for ``scheme:value[?key=val[&key=val...]]``.

    ``value`` stays a string (RFC 26); query values that read as numbers become numbers and a
    repeated key collects a list, as ``flux submit --dependency`` does.
    """
    if not isinstance(text, str):
        fail("dependency", f"must be a string, got {kind(text)}")
    scheme, colon, rest = text.partition(":")
    value, question, query = rest.partition("?")
    if not colon or not _SCHEME.fullmatch(scheme):
        fail(f"dependency '{text}'", "expected scheme:value[?key=val&...]")
    if value == "":
        fail(f"dependency '{text}'", "value is empty")
    dependency: dict[str, object] = {"scheme": scheme, "value": value}
    if not question:
        return dependency
    from urllib.parse import unquote_plus  # only query strings need it; keep start-up light

    for item in re.split("[&;]", query):
        if item == "":
            continue
        key, equals, raw_value = item.partition("=")
        key = unquote_plus(key)
        if not equals or key == "":
            fail(f"dependency '{text}'", f"query item '{item}' must be key=value")
        if key in ("scheme", "value"):
            fail(f"dependency '{text}'", f"query key '{key}' is reserved")
        parsed = _number_or_text(unquote_plus(raw_value))
        if key not in dependency:
            dependency[key] = parsed
        elif isinstance(dependency[key], list):
            dependency[key].append(parsed)
        else:
            dependency[key] = [dependency[key], parsed]
    return dependency


def _build_resources(ntasks: int, nnodes: int | None, cores_per_task: int, gpus_per_task: int,
                     exclusive: bool | None) -> tuple[list[dict], dict[str, int]]:
    """Return the resources and task count of ``flux submit -n -N -c -g [-x]``.

    One slot per task; with nodes, each node gets enough slots for an even share of the tasks
    and an uneven share is told with ``total``, leaving some slots empty, as Flux does.
    """
    slot_contents = [{"type": "core", "count": cores_per_task}]
    if gpus_per_task:
        slot_contents.append({"type": "gpu", "count": gpus_per_task})
    if not nnodes:
        slot = {"type": "slot", "count": ntasks, "with": slot_contents, "label": "task"}
        return [slot], {"per_slot": 1}
    slots_per_node = -(-ntasks // nnodes)
    slot = {"type": "slot", "count": slots_per_node, "with": slot_contents, "label": "task"}
    node: dict[str, object] = {"type": "node", "count": nnodes}
    if exclusive:
        node["exclusive"] = True
    node["with"] = [slot]
    task_count = {"total": ntasks} if ntasks % nnodes else {"per_slot": 1}
    return [node], task_count


def _check_option_count(option: str, value: object, minimum: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if type(value) is not int or value < minimum:
        wanted = "a positive integer" if minimum else "a non-negative integer"
        fail(option, f"must be {wanted}, got {value!r}")


def _duration_seconds(duration: str | float | None) -> float:
    if duration is None:
        return 0.0
    try:
        seconds = fsd.parse(duration)
    except ValueError as exc:
        fail("duration", str(exc))
    if math.isinf(seconds):
        fail("duration", "must be finite (0 means unlimited)")
    return seconds


def _path_option(option: str, path: object) -> str:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if type(path) is not str or path == "":
        fail(option, f"must be a non-empty path, got {path!r}")
    return path


def _dependency_option(dependency: str | dict) -> dict:
    if isinstance(dependency, str):
        return parse_dependency(dependency)
    if isinstance(dependency, Mapping):
        return dict(dependency)
    fail("dependencies", f"each must be a string or an object, got {kind(dependency)}")


def _epoch(begin_time: str | float | datetime.datetime) -> float:
    """Return ``begin_time`` as epoch seconds: a number, ``+FSD`` from now, or ISO 8601."""
    if isinstance(begin_time, datetime.datetime):
        seconds = begin_time.timestamp()
    elif type(begin_time) in (int, float):
        seconds = float(begin_time)
    elif isinstance(begin_time, str):
        text = begin_time.strip()
        try:
            if text.startswith("+"):
                seconds = time.time() + fsd.parse(text[1:])
            elif _FLOAT.fullmatch(text):
                seconds = float(text)
            else:
                seconds = datetime.datetime.fromisoformat(text).timestamp()
        except ValueError:
            fail("begin_time", f"cannot read '{begin_time}' as epoch seconds, an ISO 8601 time "
                  "or +FSD")
    else:
        fail("begin_time", f"must be a number, a string or a datetime, got {kind(begin_time)}")
    if not 0 <= seconds < math.inf:
        fail("begin_time", f"must be a time after the epoch, got {begin_time!r}")
    return seconds


def _apply_setattr(jobspec: dict, keyval: str) -> None:
    """Set one ``--setattr KEY[=VAL]``: VAL is JSON if it parses as JSON (default 1).

    KEY is under ``attributes.system`` unless it starts with ``user.`` or ``system.`` (under
    ``attributes``), ``.`` (under ``attributes``, dot dropped) or ``attributes.`` (from the top).
    """
    key, value = _key_value("setattr", keyval)
    if key.startswith("attributes."):
        path = key.split(".")
    elif key.startswith("."):
        path = ["attributes", *key[1:].split(".")]
    elif key.startswith(("user.", "system.")):
        path = ["attributes", *key.split(".")]
    else:
        path = ["attributes", "system", *key.split(".")]
    _set_path(jobspec, path, value, f"setattr '{keyval}'")


def _key_value(option: str, keyval) -> tuple[str, object]:
    """The key and value of a ``KEY[=VAL]`` option: VAL is JSON if it parses as JSON, else
    text; without ``=VAL``, 1 (Flux's rule for ``--setattr`` and ``--setopt``)."""
    if not isinstance(keyval, str):
        fail(option, f"must be a KEY=VAL string, got {kind(keyval)}")
    key, equals, text = keyval.partition("=")
    return key, _json_or_text(text) if equals else 1


def _set_path(jobspec: dict, path: list[str], value, where: str) -> None:
    if "" in path:
        fail(where, "the key has an empty part")
    node = jobspec
    for depth, part in enumerate(path[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            fail(where, f"{'.'.join(path[: depth + 1])} is not an object")
        node = child
    node[path[-1]] = value


def _json_or_text(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _number_or_text(text: str) -> int | float | str:
    if _INTEGER.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text
