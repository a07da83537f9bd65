"""Jobspec version 1 (Flux RFC 25), its RFC 14 attributes and RFC 26 dependencies.

This module owns what a valid jobspec is: ``validate`` checks one the way flux-core's job-ingest
does and sums it up as a ``Request`` for the scheduler and exec; ``build`` makes one the way
``flux submit`` does from its options; ``load`` reads one from a file; ``redact`` drops the
environment the job manager need not keep. It must not apply site policy (limits, default queue
or duration): that belongs to ingest and the jobtap plugins.

corral extensions, all under ``attributes.system``: ``account``, ``qos`` and ``comment``
(strings), ``requeue`` (boolean, default true) and ``constraints`` (an RFC 31 object). Other
keys under ``attributes.system`` are left to plugins, as RFC 14 asks.
"""

import collections
import datetime
import json
import math
import os
import re
import time
from collections.abc import Iterable, Mapping

from corral import fsd


class JobspecError(ValueError):
    """A jobspec, or an option used to build one, is invalid; the message says where and why."""


_REQUEST_FIELDS = (
    "nnodes",  # 0: no node level in the jobspec
    "nslots",
    "cores_per_slot",
    "gpus_per_slot",
    "exclusive",
    "ntasks",
    "duration",  # seconds; 0.0 means unlimited
    "command",  # tuple of str
    "cwd",
    "queue",
    "name",
    "dependencies",  # tuple of dicts
    "stdout_path",
    "stderr_path",
    "per_resource",  # (type, count) from attributes.system.shell.options.per-resource
    "account",
    "qos",
    "comment",
    "requeue",
)


class Request(collections.namedtuple("Request", _REQUEST_FIELDS)):
    """What the scheduler and exec need from a valid jobspec, read once at submit.

    ``nslots`` is the total slot count (slots per node times nodes), as flux-core's ``jj``
    counts it. ``ntasks`` is 0 only when ``per_resource`` is ``("core", n)`` with nodes: the
    task count then depends on the cores the job is given, as in flux-core's job-list.
    An immutable named tuple: cheap to build once per submitted job, and cheap to import.
    """

    __slots__ = ()

    @property
    def slots_per_node(self) -> int:
        """Slots to place on each node (all slots when the jobspec has no node level)."""
        return self.nslots // self.nnodes if self.nnodes else self.nslots


_TOP_KEYS = frozenset({"resources", "tasks", "attributes", "version"})
_VERTEX_KEYS = frozenset({"type", "count", "unit", "with", "label"})
_NODE_KEYS = _VERTEX_KEYS | {"exclusive"}
_TASK_KEYS = frozenset({"command", "slot", "count", "distribution", "attributes"})
_ATTRIBUTE_KEYS = frozenset({"system", "user"})
_SYSTEM_STRINGS = ("cwd", "queue", "account", "qos", "comment")
_ABSENT = object()


def validate(jobspec: dict) -> Request:
    """Check ``jobspec`` against RFC 25 version 1 and return its ``Request``.

    Raises JobspecError naming the first fault found, e.g.
    ``jobspec: resources[0].count: must be a positive integer, got 0``.
    """
    if not isinstance(jobspec, dict):
        raise JobspecError(f"jobspec: must be an object, got {_kind(jobspec)}")
    if jobspec.keys() != _TOP_KEYS:
        _fail_keys(jobspec, _TOP_KEYS, "", required=("resources", "tasks", "attributes", "version"))
    version = jobspec["version"]
    if type(version) is not int or version != 1:
        _fail("version", f"must be 1, got {version!r}")
    nnodes, exclusive, nslots, label, cores, gpus = _read_resources(jobspec["resources"])
    command, count_kind, count_value = _read_task(jobspec["tasks"], label)
    system = _read_system(jobspec["attributes"])
    duration, cwd, queue, account, qos, comment, requeue = _read_system_values(system)
    dependencies = _read_dependencies(system.get("dependencies", _ABSENT))
    name = _read_job_name(system.get("job", _ABSENT), command[0])
    stdout_path, stderr_path, per_resource = _read_shell(system.get("shell", _ABSENT))
    if count_kind == "total" and count_value < nnodes:
        _fail("tasks[0].count.total", f"must be at least the node count ({nnodes}), "
              f"got {count_value}")
    if count_kind == "total" and count_value > nslots:
        _fail("tasks[0].count.total", f"must be at most the slot count ({nslots}), "
              f"got {count_value}")
    ntasks = count_value if count_kind == "total" else count_value * nslots
    if per_resource is not None:
        ntasks = _count_tasks_per_resource(per_resource, nnodes, nslots * cores, ntasks)

    return Request(
        nnodes=nnodes,
        nslots=nslots,
        cores_per_slot=cores,
        gpus_per_slot=gpus,
        exclusive=exclusive,
        ntasks=ntasks,
        duration=duration,
        command=command,
        cwd=cwd,
        queue=queue,
        name=name,
        dependencies=dependencies,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        per_resource=per_resource,
        account=account,
        qos=qos,
        comment=comment,
        requeue=requeue,
    )


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
    name: str | None = None,
    dependencies: Iterable[str | dict] = (),
    begin_time: str | float | datetime.datetime | None = None,
    output: str | os.PathLike | None = None,
    error: str | os.PathLike | None = None,
    setattr: Iterable[str] = (),
) -> dict:
    """Build a version 1 jobspec from ``flux submit``-style options, and validate it.

    ``-n ntasks -N nnodes -c cores_per_task -g gpus_per_task -x exclusive``: with ``nnodes`` and
    no ``ntasks``, one task runs per node and nodes are exclusive, as ``flux submit -N`` does;
    with both, tasks spread as evenly as slots allow (``total`` when uneven). ``duration`` is an
    FSD string or seconds (0 or None: unlimited). ``dependencies`` are RFC 26 strings or objects;
    ``begin_time`` (epoch seconds, ISO 8601 time or ``+FSD`` from now) adds a ``begin-time``
    dependency. ``output``/``error`` are file paths, templates such as ``{{id}}`` kept verbatim.
    ``setattr`` holds ``KEY[=VAL]`` strings applied last, as ``--setattr`` does.
    """
    if isinstance(command, str) or not isinstance(command, Iterable):
        _fail("command", "must be a non-empty list of strings")
    command = list(command)
    if not command or not all(type(argument) is str for argument in command):
        _fail("command", "must be a non-empty list of strings")
    _check_option_count("ntasks", ntasks, minimum=1, optional=True)
    _check_option_count("nnodes", nnodes, minimum=1, optional=True)
    _check_option_count("cores_per_task", cores_per_task, minimum=1)
    _check_option_count("gpus_per_task", gpus_per_task, minimum=0)
    if exclusive is not None and type(exclusive) is not bool:
        _fail("exclusive", f"must be a boolean, got {_kind(exclusive)}")
    if ntasks is None:
        ntasks = nnodes or 1
        if nnodes and exclusive is None:
            exclusive = True
    if exclusive and not nnodes:
        _fail("exclusive", "requires nnodes")
    if nnodes and nnodes > ntasks:
        _fail("nnodes", f"must not exceed ntasks ({nnodes} > {ntasks})")

    resources, task_count = _build_resources(ntasks, nnodes, cores_per_task, gpus_per_task,
                                             exclusive)
    system: dict[str, object] = {"duration": _duration_seconds(duration)}
    if environment is not None:
        if not isinstance(environment, Mapping):
            _fail("environment", f"must be a mapping, got {_kind(environment)}")
        system["environment"] = dict(environment)
    if cwd is not None:
        system["cwd"] = _path_option("cwd", cwd)
    if queue is not None:
        system["queue"] = queue
    if name is not None:
        system["job"] = {"name": name}
    redirects = {}
    if output is not None:
        redirects["stdout"] = {"type": "file", "path": _path_option("output", output)}
    if error is not None:
        redirects["stderr"] = {"type": "file", "path": _path_option("error", error)}
    if redirects:
        system["shell"] = {"options": {"output": redirects}}
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
        _fail("dependency", f"must be a string, got {_kind(text)}")
    scheme, colon, rest = text.partition(":")
    value, question, query = rest.partition("?")
    if not colon or not _SCHEME.fullmatch(scheme):
        _fail(f"dependency '{text}'", "expected scheme:value[?key=val&...]")
    if value == "":
        _fail(f"dependency '{text}'", "value is empty")
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
            _fail(f"dependency '{text}'", f"query item '{item}' must be key=value")
        if key in ("scheme", "value"):
            _fail(f"dependency '{text}'", f"query key '{key}' is reserved")
        parsed = _number_or_text(unquote_plus(raw_value))
        if key not in dependency:
            dependency[key] = parsed
        elif isinstance(dependency[key], list):
            dependency[key].append(parsed)
        else:
            dependency[key] = [dependency[key], parsed]
    return dependency


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
        raise JobspecError(f"jobspec: {label}: must hold an object, got {_kind(document)}")
    return document


def redact(jobspec: dict) -> dict:
    """Return a shallow copy of ``jobspec`` without ``attributes.system.environment``.

    The job manager keeps this copy for every job, as Flux's does: the environment is the
    biggest part of a jobspec and only exec needs it.
    """
    attributes = jobspec.get("attributes")
    system = attributes.get("system") if isinstance(attributes, dict) else None
    if not isinstance(system, dict) or "environment" not in system:
        return dict(jobspec)
    redacted_system = {key: value for key, value in system.items() if key != "environment"}
    return {**jobspec, "attributes": {**attributes, "system": redacted_system}}


# --- validation helpers ---------------------------------------------------------------------


def _fail(where: str, problem: str) -> None:
    raise JobspecError(f"jobspec: {where}: {problem}")


def _kind(value: object) -> str:
    """Name the JSON type of ``value`` for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _fail_keys(mapping: dict, allowed: frozenset, where: str, required: tuple = ()) -> None:
    """Report the first required key missing from ``mapping``, else its first unknown key."""
    for key in required:
        if key not in mapping:
            _fail(_join(where, key), "required key is missing")
    unknown = next(key for key in mapping if key not in allowed)
    _fail(_join(where, unknown), "unknown key")


def _check_vertex(vertex: object, where: str, allowed: frozenset) -> str:
    """Check the keys of resource vertex ``vertex`` and return its type."""
    if not isinstance(vertex, dict):
        _fail(where, f"must be an object, got {_kind(vertex)}")
    if not vertex.keys() <= allowed:
        if "exclusive" in vertex and allowed is _VERTEX_KEYS:
            _fail(f"{where}.exclusive", "is allowed only on a node")
        _fail_keys(vertex, allowed, where)
    vertex_type = vertex.get("type", _ABSENT)
    if vertex_type is _ABSENT:
        _fail(f"{where}.type", "required key is missing")
    for key in ("unit", "label"):
        if key in vertex and type(vertex[key]) is not str:
            _fail(f"{where}.{key}", f"must be a string, got {_kind(vertex[key])}")
    return vertex_type


def _count(vertex: dict, where: str) -> int:
    count = vertex.get("count", _ABSENT)
    if type(count) is int and count > 0:
        return count
    if count is _ABSENT:
        _fail(f"{where}.count", "required key is missing")
    if isinstance(count, (dict, str)):
        _fail(f"{where}.count", "must be a positive integer (jobspec version 1 has no ranges)")
    _fail(f"{where}.count", f"must be a positive integer, got {count!r}")


def _children(vertex: dict, where: str) -> list:
    children = vertex.get("with", _ABSENT)
    if children is _ABSENT:
        return []
    if type(children) is not list or not children:
        _fail(f"{where}.with", "must be a non-empty array")
    return children


def _read_resources(resources: object) -> tuple[int, bool, int, str, int, int]:
    """Walk a V1 resource graph: ``[node>]slot>(core[,gpu])``.

    Returns nnodes, exclusive, total slots, slot label, cores and gpus per slot.
    """
    if type(resources) is not list or len(resources) != 1:
        if not isinstance(resources, list):
            _fail("resources", f"must be an array, got {_kind(resources)}")
        _fail("resources", f"must hold exactly one node or slot, got {len(resources)} entries")
    where = "resources[0]"
    top = resources[0]
    top_type = _check_vertex(top, where, _NODE_KEYS)
    if top_type == "node":
        nnodes = _count(top, where)
        exclusive = top.get("exclusive", False)
        if type(exclusive) is not bool:
            _fail(f"{where}.exclusive", f"must be a boolean, got {_kind(exclusive)}")
        node_contents = _children(top, where)
        if len(node_contents) != 1:
            _fail(f"{where}.with", "a node must hold exactly one slot")
        slot, slot_where = node_contents[0], f"{where}.with[0]"
        slot_type = _check_vertex(slot, slot_where, _VERTEX_KEYS)
        if slot_type != "slot":
            _fail(f"{slot_where}.type", f"must be 'slot', got {slot_type!r}")
    elif top_type == "slot":
        if "exclusive" in top:
            _fail(f"{where}.exclusive", "is allowed only on a node")
        nnodes, exclusive, slot, slot_where = 0, False, top, where
    else:
        _fail(f"{where}.type", f"must be 'node' or 'slot', got {top_type!r}")
    slots = _count(slot, slot_where)
    label = slot.get("label", _ABSENT)
    if label is _ABSENT:
        _fail(f"{slot_where}.label", "required key is missing (a slot needs a label)")
    cores = gpus = 0
    for index, child in enumerate(_children(slot, slot_where)):
        child_where = f"{slot_where}.with[{index}]"
        child_type = _check_vertex(child, child_where, _VERTEX_KEYS)
        if child_type not in ("core", "gpu"):
            _fail(f"{child_where}.type", f"must be 'core' or 'gpu', got {child_type!r}")
        if "with" in child:
            _fail(f"{child_where}.with", f"a {child_type} cannot hold other resources")
        child_count = _count(child, child_where)
        if child_type == "core":
            if cores:
                _fail(child_where, "a slot may hold only one core entry")
            cores = child_count
        else:
            if gpus:
                _fail(child_where, "a slot may hold only one gpu entry")
            gpus = child_count
    if not cores:
        _fail(f"{slot_where}.with", "a slot must hold a core")
    return nnodes, exclusive, slots * (nnodes or 1), label, cores, gpus


def _read_task(tasks: object, label: str) -> tuple[tuple[str, ...], str, int]:
    """Check the single V1 task; return its command and its count's kind and value."""
    if type(tasks) is not list or len(tasks) != 1:
        if not isinstance(tasks, list):
            _fail("tasks", f"must be an array, got {_kind(tasks)}")
        _fail("tasks", f"must hold exactly one task, got {len(tasks)}")
    task = tasks[0]
    where = "tasks[0]"
    if not isinstance(task, dict):
        _fail(where, f"must be an object, got {_kind(task)}")
    if not task.keys() <= _TASK_KEYS or len(task) < 3:
        for key in ("command", "slot", "count"):
            if key not in task:
                _fail(f"{where}.{key}", "required key is missing")
        if not task.keys() <= _TASK_KEYS:
            _fail_keys(task, _TASK_KEYS, where)
    command = task["command"]
    if type(command) is not list or not command:
        _fail(f"{where}.command", "must be a non-empty array of strings")
    for index, argument in enumerate(command):
        if type(argument) is not str:
            _fail(f"{where}.command[{index}]", f"must be a string, got {_kind(argument)}")
    if task["slot"] != label or type(task["slot"]) is not str:
        _fail(f"{where}.slot", f"must name the slot label {label!r}, got {task['slot']!r}")
    count = task["count"]
    if not isinstance(count, dict):
        _fail(f"{where}.count", f"must be an object, got {_kind(count)}")
    if len(count) != 1:
        _fail(f"{where}.count", "must hold exactly one of per_slot or total")
    ((count_kind, count_value),) = count.items()
    if count_kind not in ("per_slot", "total"):
        if count_kind == "per_resource":
            _fail(f"{where}.count.per_resource",
                  "is not supported in jobspec version 1 (use per_slot or total)")
        _fail(f"{where}.count.{count_kind}", "unknown key (expected per_slot or total)")
    if type(count_value) is not int or count_value < 1:
        _fail(f"{where}.count.{count_kind}", f"must be a positive integer, got {count_value!r}")
    if "distribution" in task and type(task["distribution"]) is not str:
        _fail(f"{where}.distribution", f"must be a string, got {_kind(task['distribution'])}")
    if "attributes" in task and not isinstance(task["attributes"], dict):
        _fail(f"{where}.attributes", f"must be an object, got {_kind(task['attributes'])}")
    return tuple(command), count_kind, count_value


def _read_system(attributes: object) -> dict:
    """Check ``attributes`` holds only ``system`` (required) and ``user``; return ``system``."""
    if not isinstance(attributes, dict):
        _fail("attributes", f"must be an object, got {_kind(attributes)}")
    if not attributes.keys() <= _ATTRIBUTE_KEYS:
        unknown = next(key for key in attributes if key not in _ATTRIBUTE_KEYS)
        _fail(f"attributes.{unknown}", "unknown key (expected system or user)")
    system = attributes.get("system", _ABSENT)
    if system is _ABSENT:
        _fail("attributes.system", "required key is missing")
    if not isinstance(system, dict):
        _fail("attributes.system", f"must be an object, got {_kind(system)}")
    if "user" in attributes and not isinstance(attributes["user"], dict):
        _fail("attributes.user", f"must be an object, got {_kind(attributes['user'])}")
    return system


def _read_system_values(system: dict) -> tuple:
    """Return duration, cwd, queue, account, qos, comment and requeue, checked.

    Constraints and the environment are checked for shape only: their readers own the rest.
    """
    duration = system.get("duration", _ABSENT)
    if duration is _ABSENT:
        _fail("attributes.system.duration", "required key is missing (0 means unlimited)")
    if type(duration) not in (int, float) or not 0 <= duration < math.inf:
        _fail("attributes.system.duration", f"must be a non-negative number of seconds, "
              f"got {duration!r}")
    strings: list[str | None] = []
    for key in _SYSTEM_STRINGS:
        value = system.get(key, _ABSENT)
        if value is _ABSENT:
            strings.append(None)
        elif type(value) is str:
            strings.append(value)
        else:
            _fail(f"attributes.system.{key}", f"must be a string, got {_kind(value)}")
    requeue = system.get("requeue", True)
    if type(requeue) is not bool:
        _fail("attributes.system.requeue", f"must be a boolean, got {_kind(requeue)}")
    if "constraints" in system and not isinstance(system["constraints"], dict):
        _fail("attributes.system.constraints", f"must be an object, got "
              f"{_kind(system['constraints'])}")
    if "environment" in system:
        _check_environment(system["environment"])
    return (float(duration), *strings, requeue)


def _count_tasks_per_resource(per_resource: tuple[str, int], nnodes: int, ncores: int,
                              ntasks: int) -> int:
    """Apply the shell's ``per-resource`` option as flux-core's job-list counts it.

    ``node`` with nodes: count per node; ``core``: count per core, unknown (0) with nodes
    until the allocation says how many cores each node gives; otherwise ``ntasks`` stands.
    """
    resource_type, tasks_per_resource = per_resource
    if resource_type == "node" and nnodes:
        return nnodes * tasks_per_resource
    if resource_type == "core":
        return 0 if nnodes else ncores * tasks_per_resource
    return ntasks


def _check_environment(environment: object) -> None:
    """Environment values are strings, or null to unset the variable (RFC 14)."""
    if not isinstance(environment, dict):
        _fail("attributes.system.environment", f"must be an object, got {_kind(environment)}")
    for variable, value in environment.items():
        if type(value) is not str and value is not None or type(variable) is not str:
            _fail(f"attributes.system.environment.{variable}",
                  f"must be a string or null, got {_kind(value)}")


def _read_dependencies(dependencies: object) -> tuple[dict, ...]:
    if dependencies is _ABSENT:
        return ()
    if type(dependencies) is not list:
        _fail("attributes.system.dependencies", f"must be an array, got {_kind(dependencies)}")
    for index, dependency in enumerate(dependencies):
        where = f"attributes.system.dependencies[{index}]"
        if not isinstance(dependency, dict):
            _fail(where, f"must be an object, got {_kind(dependency)}")
        for key in ("scheme", "value"):
            value = dependency.get(key, _ABSENT)
            if value is _ABSENT:
                _fail(f"{where}.{key}", "required key is missing")
            if type(value) is not str or value == "":
                _fail(f"{where}.{key}", f"must be a non-empty string, got {value!r}")
    return tuple(dependencies)


def _read_job_name(job: object, argument0: str) -> str:
    """Return ``job.name``, else the basename of the command, as Flux names jobs."""
    if job is not _ABSENT:
        if not isinstance(job, dict):
            _fail("attributes.system.job", f"must be an object, got {_kind(job)}")
        for key, value in job.items():
            if type(value) is not str:
                _fail(f"attributes.system.job.{key}", f"must be a string, got {_kind(value)}")
        name = job.get("name")
        if name is not None:
            return name
    basename = argument0.rpartition("/")[2]
    return basename or argument0  # "dir/" names the job "dir/", as flux-core does


def _read_shell(shell: object) -> tuple[str | None, str | None, tuple[str, int] | None]:
    """Return the stdout and stderr file paths and the per-resource task count, if set."""
    if shell is _ABSENT:
        return None, None, None
    where = "attributes.system.shell"
    if not isinstance(shell, dict):
        _fail(where, f"must be an object, got {_kind(shell)}")
    options = shell.get("options", _ABSENT)
    if options is _ABSENT:
        return None, None, None
    where += ".options"
    if not isinstance(options, dict):
        _fail(where, f"must be an object, got {_kind(options)}")
    paths: list[str | None] = [None, None]
    output = options.get("output", _ABSENT)
    if output is not _ABSENT:
        if not isinstance(output, dict):
            _fail(f"{where}.output", f"must be an object, got {_kind(output)}")
        for index, stream in enumerate(("stdout", "stderr")):
            redirect = output.get(stream, _ABSENT)
            if redirect is _ABSENT:
                continue
            stream_where = f"{where}.output.{stream}"
            if not isinstance(redirect, dict):
                _fail(stream_where, f"must be an object, got {_kind(redirect)}")
            if redirect.get("type") != "file":
                _fail(f"{stream_where}.type", f"must be 'file', got {redirect.get('type')!r}")
            path = redirect.get("path")
            if type(path) is not str or path == "":
                _fail(f"{stream_where}.path", f"must be a non-empty string, got {path!r}")
            paths[index] = path
    per_resource = options.get("per-resource", _ABSENT)
    if per_resource is _ABSENT:
        return paths[0], paths[1], None
    per_where = f"{where}.per-resource"
    if not isinstance(per_resource, dict):
        _fail(per_where, f"must be an object, got {_kind(per_resource)}")
    resource_type = per_resource.get("type")
    if resource_type not in ("node", "core"):
        _fail(f"{per_where}.type", f"must be 'node' or 'core', got {resource_type!r}")
    tasks_per_resource = per_resource.get("count", 1)
    if type(tasks_per_resource) is not int or tasks_per_resource < 1:
        _fail(f"{per_where}.count", f"must be a positive integer, got {tasks_per_resource!r}")
    return paths[0], paths[1], (resource_type, tasks_per_resource)


# --- build helpers --------------------------------------------------------------------------


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
        _fail(option, f"must be {wanted}, got {value!r}")


def _duration_seconds(duration: str | float | None) -> float:
    if duration is None:
        return 0.0
    try:
        seconds = fsd.parse(duration)
    except ValueError as exc:
        _fail("duration", str(exc))
    if math.isinf(seconds):
        _fail("duration", "must be finite (0 means unlimited)")
    return seconds


def _path_option(option: str, path: object) -> str:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if type(path) is not str or path == "":
        _fail(option, f"must be a non-empty path, got {path!r}")
    return path


def _dependency_option(dependency: str | dict) -> dict:
    if isinstance(dependency, str):
        return parse_dependency(dependency)
    if isinstance(dependency, Mapping):
        return dict(dependency)
    _fail("dependencies", f"each must be a string or an object, got {_kind(dependency)}")


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
            _fail("begin_time", f"cannot read '{begin_time}' as epoch seconds, an ISO 8601 time "
                  "or +FSD")
    else:
        _fail("begin_time", f"must be a number, a string or a datetime, got {_kind(begin_time)}")
    if not 0 <= seconds < math.inf:
        _fail("begin_time", f"must be a time after the epoch, got {begin_time!r}")
    return seconds


def _apply_setattr(jobspec: dict, keyval: str) -> None:
    """Set one ``--setattr KEY[=VAL]``: VAL is JSON if it parses as JSON (default 1).

    KEY is under ``attributes.system`` unless it starts with ``user.`` or ``system.`` (under
    ``attributes``), ``.`` (under ``attributes``, dot dropped) or ``attributes.`` (from the top).
    """
    if not isinstance(keyval, str):
        _fail("setattr", f"must be a KEY=VAL string, got {_kind(keyval)}")
    key, equals, text = keyval.partition("=")
    value: object = _json_or_text(text) if equals else 1
    if key.startswith("attributes."):
        path = key.split(".")
    elif key.startswith("."):
        path = ["attributes", *key[1:].split(".")]
    elif key.startswith(("user.", "system.")):
        path = ["attributes", *key.split(".")]
    else:
        path = ["attributes", "system", *key.split(".")]
    if "" in path:
        _fail(f"setattr '{keyval}'", "the key has an empty part")
    node = jobspec
    for depth, part in enumerate(path[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            _fail(f"setattr '{keyval}'", f"{'.'.join(path[: depth + 1])} is not an object")
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
