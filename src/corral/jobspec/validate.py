"""What a valid version 1 jobspec is (RFC 25, with RFC 14 attributes), checked as flux-core's
job-ingest checks it, and summed up as a `Request` for the scheduler and exec.

It must not apply site policy (limits, default queue or duration): that belongs to ingest and
the jobtap plugins.  It does apply the fixed bounds of `corral.limits` (counts, strings,
paths, environment, nesting): what it accepts, exec must be able to start.
"""

import collections
import math

from .. import fsd
from ..limits import (
    MAX_COUNT,
    MAX_DEPTH,
    MAX_EXEC_BYTES,
    MAX_EXEC_STRING,
    MAX_PATH,
    MAX_TASKS,
    MAX_TEXT,
    quote,
    shorten,
    too_deep,
)


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
    "constraints",  # the RFC 31 object of attributes.system.constraints, or None
    "queues",  # every queue a job names ("a,b"), in order, or None for one; queue is the first
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
        raise JobspecError(f"jobspec: must be an object, got {kind(jobspec)}")
    if jobspec.keys() != _TOP_KEYS:
        _fail_keys(jobspec, _TOP_KEYS, "", required=("resources", "tasks", "attributes", "version"))
    version = jobspec["version"]
    if type(version) is not int or version != 1:
        fail("version", f"must be 1, got {quote(version)}")
    nnodes, exclusive, nslots, label, cores, gpus = _read_resources(jobspec["resources"])
    command, count_kind, count_value = _read_task(jobspec["tasks"], label)
    system = _read_system(jobspec["attributes"])
    duration, cwd, queue, account, qos, comment, requeue, environment_size = (
        _read_system_values(system))
    queues = _read_queues(queue)
    if queues is not None:
        queue = queues[0]
    dependencies = _read_dependencies(system.get("dependencies", _ABSENT))
    name = _read_job_name(system.get("job", _ABSENT), command[0])
    stdout_path, stderr_path, per_resource = _read_shell(system.get("shell", _ABSENT))
    if count_kind == "total" and count_value < nnodes:
        fail("tasks[0].count.total", f"must be at least the node count ({nnodes}), "
              f"got {count_value}")
    if count_kind == "total" and count_value > nslots:
        fail("tasks[0].count.total", f"must be at most the slot count ({nslots}), "
              f"got {count_value}")
    ntasks = count_value if count_kind == "total" else count_value * nslots
    if per_resource is not None:
        ntasks = _count_tasks_per_resource(per_resource, nnodes, nslots * cores, ntasks)
    _check_totals(nslots, cores, gpus, ntasks, per_resource)
    _check_exec_size(command, system.get("environment"), environment_size)
    _check_depth(jobspec["tasks"][0], jobspec["attributes"], system)

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
        constraints=system.get("constraints"),
        queues=queues,
    )


def _read_queues(queue: str | None) -> tuple[str, ...] | None:
    """The queues of a job that names several (``"a,b"``, as ``sbatch -p a,b``), or None."""
    if queue is None or "," not in queue:
        return None
    names = tuple(queue.split(","))
    if not all(names) or len(set(names)) != len(names):
        fail("attributes.system.queue", f"must be a queue name or a list of distinct names "
              f"separated by commas, got {quote(queue)}")
    return names


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


def fail(where: str, problem: str) -> None:
    raise JobspecError(shorten(f"jobspec: {where}: {problem}"))


def kind(value: object) -> str:
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
            fail(_join(where, key), "required key is missing")
    unknown = next(key for key in mapping if key not in allowed)
    fail(_join(where, unknown), "unknown key")


def _check_vertex(vertex: object, where: str, allowed: frozenset) -> str:
    """Check the keys of resource vertex ``vertex`` and return its type."""
    if not isinstance(vertex, dict):
        fail(where, f"must be an object, got {kind(vertex)}")
    if not vertex.keys() <= allowed:
        if "exclusive" in vertex and allowed is _VERTEX_KEYS:
            fail(f"{where}.exclusive", "is allowed only on a node")
        _fail_keys(vertex, allowed, where)
    vertex_type = vertex.get("type", _ABSENT)
    if vertex_type is _ABSENT:
        fail(f"{where}.type", "required key is missing")
    for key in ("unit", "label"):
        if key in vertex:
            _check_text(vertex[key], f"{where}.{key}")
    return vertex_type


def _count(vertex: dict, where: str) -> int:
    count = vertex.get("count", _ABSENT)
    if type(count) is int and 0 < count <= MAX_COUNT:
        return count
    if type(count) is int and count > 0:
        fail(f"{where}.count", f"must be at most {MAX_COUNT}, got {quote(count)}")
    if count is _ABSENT:
        fail(f"{where}.count", "required key is missing")
    if isinstance(count, (dict, str)):
        fail(f"{where}.count", "must be a positive integer (jobspec version 1 has no ranges)")
    fail(f"{where}.count", f"must be a positive integer, got {quote(count)}")


def _children(vertex: dict, where: str) -> list:
    children = vertex.get("with", _ABSENT)
    if children is _ABSENT:
        return []
    if type(children) is not list or not children:
        fail(f"{where}.with", "must be a non-empty array")
    return children


def _read_resources(resources: object) -> tuple[int, bool, int, str, int, int]:
    """Walk a V1 resource graph: ``[node>]slot>(core[,gpu])``.

    Returns nnodes, exclusive, total slots, slot label, cores and gpus per slot.
    """
    if type(resources) is not list or len(resources) != 1:
        if not isinstance(resources, list):
            fail("resources", f"must be an array, got {kind(resources)}")
        fail("resources", f"must hold exactly one node or slot, got {len(resources)} entries")
    where = "resources[0]"
    top = resources[0]
    top_type = _check_vertex(top, where, _NODE_KEYS)
    if top_type == "node":
        nnodes = _count(top, where)
        exclusive = top.get("exclusive", False)
        if type(exclusive) is not bool:
            fail(f"{where}.exclusive", f"must be a boolean, got {kind(exclusive)}")
        node_contents = _children(top, where)
        if len(node_contents) != 1:
            fail(f"{where}.with", "a node must hold exactly one slot")
        slot, slot_where = node_contents[0], f"{where}.with[0]"
        slot_type = _check_vertex(slot, slot_where, _VERTEX_KEYS)
        if slot_type != "slot":
            fail(f"{slot_where}.type", f"must be 'slot', got {quote(slot_type)}")
    elif top_type == "slot":
        if "exclusive" in top:
            fail(f"{where}.exclusive", "is allowed only on a node")
        nnodes, exclusive, slot, slot_where = 0, False, top, where
    else:
        fail(f"{where}.type", f"must be 'node' or 'slot', got {quote(top_type)}")
    slots = _count(slot, slot_where)
    label = slot.get("label", _ABSENT)
    if label is _ABSENT:
        fail(f"{slot_where}.label", "required key is missing (a slot needs a label)")
    cores = gpus = 0
    for index, child in enumerate(_children(slot, slot_where)):
        child_where = f"{slot_where}.with[{index}]"
        child_type = _check_vertex(child, child_where, _VERTEX_KEYS)
        if child_type not in ("core", "gpu"):
            fail(f"{child_where}.type", f"must be 'core' or 'gpu', got {quote(child_type)}")
        if "with" in child:
            fail(f"{child_where}.with", f"a {child_type} cannot hold other resources")
        child_count = _count(child, child_where)
        if child_type == "core":
            if cores:
                fail(child_where, "a slot may hold only one core entry")
            cores = child_count
        else:
            if gpus:
                fail(child_where, "a slot may hold only one gpu entry")
            gpus = child_count
    if not cores:
        fail(f"{slot_where}.with", "a slot must hold a core")
    return nnodes, exclusive, slots * (nnodes or 1), label, cores, gpus


def _read_task(tasks: object, label: str) -> tuple[tuple[str, ...], str, int]:
    """Check the single V1 task; return its command and its count's kind and value."""
    if type(tasks) is not list or len(tasks) != 1:
        if not isinstance(tasks, list):
            fail("tasks", f"must be an array, got {kind(tasks)}")
        fail("tasks", f"must hold exactly one task, got {len(tasks)}")
    task = tasks[0]
    where = "tasks[0]"
    if not isinstance(task, dict):
        fail(where, f"must be an object, got {kind(task)}")
    if not task.keys() <= _TASK_KEYS or len(task) < 3:
        for key in ("command", "slot", "count"):
            if key not in task:
                fail(f"{where}.{key}", "required key is missing")
        if not task.keys() <= _TASK_KEYS:
            _fail_keys(task, _TASK_KEYS, where)
    command = task["command"]
    if type(command) is not list or not command:
        fail(f"{where}.command", "must be a non-empty array of strings")
    for index, argument in enumerate(command):
        if type(argument) is not str:
            fail(f"{where}.command[{index}]", f"must be a string, got {kind(argument)}")
        if len(argument) > _SHORT_EXEC_STRING and _utf8_size(argument) > MAX_EXEC_STRING:
            fail(f"{where}.command[{index}]", f"is over the {MAX_EXEC_STRING} byte limit of "
                                              "one argument")
    if task["slot"] != label or type(task["slot"]) is not str:
        fail(f"{where}.slot", f"must name the slot label {quote(label)}, got {quote(task['slot'])}")
    count = task["count"]
    if not isinstance(count, dict):
        fail(f"{where}.count", f"must be an object, got {kind(count)}")
    if len(count) != 1:
        fail(f"{where}.count", "must hold exactly one of per_slot or total")
    ((count_kind, count_value),) = count.items()
    if count_kind not in ("per_slot", "total"):
        if count_kind == "per_resource":
            fail(f"{where}.count.per_resource",
                  "is not supported in jobspec version 1 (use per_slot or total)")
        fail(f"{where}.count.{count_kind}", "unknown key (expected per_slot or total)")
    if type(count_value) is not int or count_value < 1:
        fail(f"{where}.count.{count_kind}", f"must be a positive integer, got {quote(count_value)}")
    if count_value > MAX_COUNT:
        fail(f"{where}.count.{count_kind}", f"must be at most {MAX_COUNT}, "
                                            f"got {quote(count_value)}")
    if "distribution" in task:
        _check_text(task["distribution"], f"{where}.distribution")
    if "attributes" in task and not isinstance(task["attributes"], dict):
        fail(f"{where}.attributes", f"must be an object, got {kind(task['attributes'])}")
    return tuple(command), count_kind, count_value


def _read_system(attributes: object) -> dict:
    """Check ``attributes`` holds only ``system`` (required) and ``user``; return ``system``."""
    if not isinstance(attributes, dict):
        fail("attributes", f"must be an object, got {kind(attributes)}")
    if not attributes.keys() <= _ATTRIBUTE_KEYS:
        unknown = next(key for key in attributes if key not in _ATTRIBUTE_KEYS)
        fail(f"attributes.{unknown}", "unknown key (expected system or user)")
    system = attributes.get("system", _ABSENT)
    if system is _ABSENT:
        fail("attributes.system", "required key is missing")
    if not isinstance(system, dict):
        fail("attributes.system", f"must be an object, got {kind(system)}")
    if "user" in attributes and not isinstance(attributes["user"], dict):
        fail("attributes.user", f"must be an object, got {kind(attributes['user'])}")
    return system


def _read_system_values(system: dict) -> tuple:
    """Return duration, cwd, queue, account, qos, comment, requeue, checked, and the
    environment's size in characters.

    Constraints are checked for shape only: their readers own the rest.
    """
    duration = system.get("duration", _ABSENT)
    if duration is _ABSENT:
        fail("attributes.system.duration", "required key is missing (0 means unlimited)")
    if type(duration) not in (int, float) or not 0 <= duration < math.inf:
        fail("attributes.system.duration", f"must be a non-negative number of seconds, "
              f"got {quote(duration)}")
    strings: list[str | None] = []
    for key in _SYSTEM_STRINGS:
        value = system.get(key, _ABSENT)
        if value is _ABSENT:
            strings.append(None)
        elif key == "cwd":
            strings.append(_check_path(value, "attributes.system.cwd"))
        else:
            strings.append(_check_text(value, f"attributes.system.{key}"))
    requeue = system.get("requeue", True)
    if type(requeue) is not bool:
        fail("attributes.system.requeue", f"must be a boolean, got {kind(requeue)}")
    if "constraints" in system and not isinstance(system["constraints"], dict):
        fail("attributes.system.constraints", f"must be an object, got "
              f"{kind(system['constraints'])}")
    environment_size = 0
    if "environment" in system:
        environment_size = _check_environment(system["environment"])
    if "exec" in system:
        _check_exec_attributes(system["exec"])
    return (float(duration), *strings, requeue, environment_size)


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


def _check_environment(environment: object) -> int:
    """Environment values are strings, or null to unset the variable (RFC 14); names are
    what ``execve`` can pass: not empty, without ``=`` (NUL is refused in every request
    before it gets here).  Returns the characters of its names and values (for
    `_check_exec_size`).  Every submitted job carries an environment, so it is checked whole,
    in C loops; the variable at fault is looked for only once there is one."""
    if not isinstance(environment, dict):
        fail("attributes.system.environment", f"must be an object, got {kind(environment)}")
    values = environment.values()
    if not set(map(type, values)) <= _ENVIRONMENT_VALUE_TYPES:
        variable, value = next((variable, value) for variable, value in environment.items()
                               if type(value) is not str and value is not None)
        fail(f"attributes.system.environment.{variable}",
              f"must be a string or null, got {kind(value)}")
    try:
        names = "".join(environment)
    except TypeError:
        fail("attributes.system.environment", "variable names must be strings")
    if "=" in names or "" in environment:
        variable = next(variable for variable in environment if not variable or "=" in variable)
        fail(f"attributes.system.environment.{quote(variable)}",
              "a variable name must be non-empty and must not hold '='")
    try:
        size = len(names) + len("".join(values))
    except TypeError:  # a null among the values
        size = len(names) + len("".join(filter(None, values)))
    if size >= _SHORT_EXEC_STRING:
        for variable, value in environment.items():
            if value is not None and \
                    _utf8_size(variable) + 1 + _utf8_size(value) > MAX_EXEC_STRING:
                fail(f"attributes.system.environment.{variable}",
                      f"NAME=VALUE is over the {MAX_EXEC_STRING} byte limit of one variable")
    return size


_ENVIRONMENT_VALUE_TYPES = frozenset({str, type(None)})


def _check_exec_attributes(exec_attributes: object) -> None:
    """``exec.test.run_duration`` (Flux's simulated execution) is a finite duration."""
    where = "attributes.system.exec"
    if not isinstance(exec_attributes, dict):
        fail(where, f"must be an object, got {kind(exec_attributes)}")
    test = exec_attributes.get("test", _ABSENT)
    if test is _ABSENT:
        return
    if not isinstance(test, dict):
        fail(f"{where}.test", f"must be an object, got {kind(test)}")
    run_duration = test.get("run_duration", _ABSENT)
    if run_duration is _ABSENT:
        return
    try:
        seconds = fsd.parse(run_duration)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds < math.inf:
        fail(f"{where}.test.run_duration", f"must be a finite duration (seconds or FSD), "
                                           f"got {quote(run_duration)}")


def _check_totals(nslots: int, cores: int, gpus: int, ntasks: int,
                  per_resource: tuple[str, int] | None) -> None:
    """No job asks for more than `MAX_COUNT` slots, cores or gpus, or `MAX_TASKS` tasks, in
    all."""
    if per_resource is not None and not ntasks:
        ntasks = nslots * cores * per_resource[1]  # per core: at least this many
    if ntasks <= MAX_TASKS and nslots * max(cores, gpus) <= MAX_COUNT:
        return  # every job but a refused one, in two comparisons
    for what, total, limit in (("slots", nslots, MAX_COUNT), ("cores", nslots * cores, MAX_COUNT),
                               ("gpus", nslots * gpus, MAX_COUNT), ("tasks", ntasks, MAX_TASKS)):
        if total > limit:
            fail("resources", f"asks for {total} {what} in all, over the limit of {limit}")


def _check_exec_size(command: tuple[str, ...], environment: dict | None,
                     environment_size: int) -> None:
    """The command and environment fit in `MAX_EXEC_BYTES`, counted as ``execve`` counts
    (``NAME=VALUE`` and each string's NUL); ``environment_size`` is its names and values
    in characters."""
    count = len(command) + 2 * len(environment or ())
    size = sum(map(len, command)) + environment_size + count
    if size * 4 > MAX_EXEC_BYTES:  # non-ASCII text takes up to 4 bytes a character
        values = [value for value in (environment or {}).values() if value is not None]
        size = sum(map(_utf8_size, [*command, *(environment or ()), *values])) + count
        if size > MAX_EXEC_BYTES:
            fail("attributes.system.environment", f"the environment and the command take "
                                                  f"{size} bytes, over the limit of "
                                                  f"{MAX_EXEC_BYTES}")


def _check_depth(task: dict, attributes: dict, system: dict) -> None:
    """The free-form parts of a jobspec nest at most `MAX_DEPTH` levels in all."""
    for where, value in (("tasks[0].attributes", task.get("attributes")),
                         ("attributes.user", attributes.get("user"))):
        if value and too_deep(value, MAX_DEPTH - 2):
            fail(where, f"nests arrays and objects more than {MAX_DEPTH} levels deep")
    for key, value in system.items():
        if isinstance(value, (dict, list)) and key != "environment" and \
                too_deep(value, MAX_DEPTH - 3):
            fail(f"attributes.system.{key}",
                 f"nests arrays and objects more than {MAX_DEPTH} levels deep")


def _check_text(value: object, where: str) -> str:
    if type(value) is not str:
        fail(where, f"must be a string, got {kind(value)}")
    if len(value) > MAX_TEXT:
        fail(where, f"is over the {MAX_TEXT} character limit")
    return value


def _check_path(value: object, where: str) -> str:
    if type(value) is not str:
        fail(where, f"must be a string, got {kind(value)}")
    if len(value) * 4 > MAX_PATH and _utf8_size(value) > MAX_PATH:
        fail(where, f"is over the {MAX_PATH} byte limit of a path")
    return value


#: Strings shorter than this many characters fit in `MAX_EXEC_STRING` bytes whatever they hold.
_SHORT_EXEC_STRING = MAX_EXEC_STRING // 4


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode(errors="surrogatepass"))


def _read_dependencies(dependencies: object) -> tuple[dict, ...]:
    if dependencies is _ABSENT:
        return ()
    if type(dependencies) is not list:
        fail("attributes.system.dependencies", f"must be an array, got {kind(dependencies)}")
    for index, dependency in enumerate(dependencies):
        where = f"attributes.system.dependencies[{index}]"
        if not isinstance(dependency, dict):
            fail(where, f"must be an object, got {kind(dependency)}")
        for key in ("scheme", "value"):
            value = dependency.get(key, _ABSENT)
            if value is _ABSENT:
                fail(f"{where}.{key}", "required key is missing")
            if type(value) is not str or value == "":
                fail(f"{where}.{key}", f"must be a non-empty string, got {quote(value)}")
            _check_text(value, f"{where}.{key}")
    return tuple(dependencies)


def _read_job_name(job: object, argument0: str) -> str:
    """Return ``job.name``, else the basename of the command, as Flux names jobs."""
    if job is not _ABSENT:
        if not isinstance(job, dict):
            fail("attributes.system.job", f"must be an object, got {kind(job)}")
        for key, value in job.items():
            _check_text(value, f"attributes.system.job.{key}")
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
        fail(where, f"must be an object, got {kind(shell)}")
    options = shell.get("options", _ABSENT)
    if options is _ABSENT:
        return None, None, None
    where += ".options"
    if not isinstance(options, dict):
        fail(where, f"must be an object, got {kind(options)}")
    paths: list[str | None] = [None, None]
    output = options.get("output", _ABSENT)
    if output is not _ABSENT:
        if not isinstance(output, dict):
            fail(f"{where}.output", f"must be an object, got {kind(output)}")
        for index, stream in enumerate(("stdout", "stderr")):
            redirect = output.get(stream, _ABSENT)
            if redirect is _ABSENT:
                continue
            stream_where = f"{where}.output.{stream}"
            if not isinstance(redirect, dict):
                fail(stream_where, f"must be an object, got {kind(redirect)}")
            label = redirect.get("label", False)
            if type(label) is not bool:
                fail(f"{stream_where}.label", f"must be a boolean, got {quote(label)}")
            if "type" not in redirect and "path" not in redirect:
                continue  # only a label (--label-io): the stream stays where it goes
            if redirect.get("type") != "file":
                fail(f"{stream_where}.type", f"must be 'file', got {quote(redirect.get('type'))}")
            path = redirect.get("path")
            if type(path) is not str or path == "":
                fail(f"{stream_where}.path", f"must be a non-empty string, got {quote(path)}")
            _check_path(path, f"{stream_where}.path")
            paths[index] = path
    stdin_input = options.get("input", _ABSENT)
    if stdin_input is not _ABSENT and stdin_input != {"stdin": {"type": "service"}}:
        fail(f"{where}.input", 'must be {"stdin": {"type": "service"}} (stdin fed by corral '
                               f"run) when present, got {quote(stdin_input)}")
    per_resource = options.get("per-resource", _ABSENT)
    if per_resource is _ABSENT:
        return paths[0], paths[1], None
    per_where = f"{where}.per-resource"
    if not isinstance(per_resource, dict):
        fail(per_where, f"must be an object, got {kind(per_resource)}")
    resource_type = per_resource.get("type")
    if resource_type not in ("node", "core"):
        fail(f"{per_where}.type", f"must be 'node' or 'core', got {quote(resource_type)}")
    tasks_per_resource = per_resource.get("count", 1)
    if type(tasks_per_resource) is not int or tasks_per_resource < 1:
        fail(f"{per_where}.count", f"must be a positive integer, got {quote(tasks_per_resource)}")
    if tasks_per_resource > MAX_COUNT:
        fail(f"{per_where}.count", f"must be at most {MAX_COUNT}, got {quote(tasks_per_resource)}")
    return paths[0], paths[1], (resource_type, tasks_per_resource)
