"""From Slurm job options to corral jobs: resources, limits, environment, dependencies,
arrays, and the ``slurm`` memo listings read (shared by sbatch, srun and salloc).

A Slurm job becomes a corral job whose one task command is the in-job helper
(`corral.slurm.jobstart`): for a batch job it runs the script once, on the first node, in an
allocation of every requested slot (as Slurm's batch step does); for srun it wraps each task.
What the helper needs (the script, ``-o``/``-e``/``-i`` patterns, ``--signal``,
``--label``) travels in the jobspec under ``attributes.system.slurm``; the environment Slurm
gives at submission (``SLURM_SUBMIT_DIR``, ``SLURM_NTASKS``, the array variables, ...) is
the jobspec's environment, and the helper adds what is known only at start.

An array is one corral job per task, submitted in one batch after its first task, whose id
is the array's (``SLURM_ARRAY_JOB_ID``); a ``%N`` throttle makes task ``k`` wait for task
``k-N`` to end (``afterany``), so that at most N run at a time.  Memory options are accepted
and recorded (``--mem`` in the memo), not enforced: corral does not schedule memory.
"""

import os
import re

from .. import jobspec as jobspec_module
from .. import signals
from ..client import RPCError
from ..jobspec import requires
from . import DEFAULT_PARTITION, SubmitError, dependencies, launchers, memory, records, times
from .options import OptionError

#: Slurm's MaxArraySize default: array task ids must be below it.
MAX_ARRAY_SIZE = 1001

_SIGNAL = re.compile(r"(B:|R:)?([A-Za-z0-9]+)(?:@(\d+))?")


#: salloc's task: it holds the allocation until salloc ends it with SIGTERM (a shell, whose
#: trap is in place before anything could signal it).
ALLOCATION_HOLDER = ("/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 60 & wait $!; done")


def _count(values, name, minimum=1):
    text = values.get(name)
    if text is None:
        return None
    invalid = f"invalid --{name.replace('_', '-')} argument '{text}'"
    most = ""
    if name == "nodes":
        text, _dash, most = text.partition("-")  # min-max: corral allocates the minimum
    try:
        value = int(text)
        maximum = int(most) if most else None
    except ValueError:
        raise OptionError(invalid) from None
    if value < minimum:
        raise OptionError(invalid)
    if maximum is not None and maximum < value:
        raise OptionError(f"{invalid}: the maximum node count is less than the minimum")
    return value


class Shape:
    """The resources of a request: tasks, nodes, cores and GPUs per task."""

    def __init__(self, values):
        self.ntasks_requested = _count(values, "ntasks")
        self.nnodes = _count(values, "nodes")
        per_node = _count(values, "ntasks_per_node")
        self.cpus_per_task_requested = _count(values, "cpus_per_task")
        self.cpus_per_task = self.cpus_per_task_requested or 1
        self.gpus_per_task = _count(values, "gpus_per_task", minimum=0) or 0
        self.exclusive = bool(values.get("exclusive"))
        ntasks = self.ntasks_requested
        if per_node is not None:
            if ntasks is None:
                ntasks = per_node * (self.nnodes or 1)
            if self.nnodes is None:
                self.nnodes = -(-ntasks // per_node)
        if self.exclusive and self.nnodes is None:
            self.nnodes = 1
        self.ntasks = ntasks or self.nnodes or 1
        if self.nnodes and self.nnodes > self.ntasks:
            self.ntasks = self.nnodes
        gres = values.get("gres")
        if gres:
            self.gpus_per_task = max(self.gpus_per_task, _gres_gpus(gres, self))
        self.ntasks_per_node = per_node

    @property
    def cpus(self) -> int:
        return self.ntasks * self.cpus_per_task


def _gres_gpus(text, shape) -> int:
    """GPUs per task for ``--gres=gpu[:type]:N`` (N per node, shared by its tasks)."""
    total = 0
    for item in text.split(","):
        parts = item.split(":")
        if parts[0] != "gpu":
            raise OptionError(f"--gres={text}: corral knows only the 'gpu' resource")
        count = parts[-1] if len(parts) > 1 else "1"
        if not count.isdecimal():
            raise OptionError(f"invalid --gres specification '{text}'")
        total += int(count)
    per_node_tasks = -(-shape.ntasks // (shape.nnodes or 1))
    return -(-total // per_node_tasks)


def _memory(values) -> dict:
    recorded = {}
    for name in ("mem", "mem_per_cpu"):
        text = values.get(name)
        if text is None:
            continue
        if not memory.SIZE.fullmatch(text):
            raise OptionError(f"invalid --{name.replace('_', '-')} specification '{text}'")
        recorded[name] = text
    return recorded


def check_signal(text: str) -> str:
    match = _SIGNAL.fullmatch(text)
    try:
        if match:
            signals.number(match[2])
            return text
    except ValueError:
        pass
    raise OptionError(f"invalid --signal specification '{text}'")


def open_mode(values) -> str | None:
    """``--open-mode``'s ``append`` or ``truncate`` (Slurm reads only the first letter), or
    None: truncate, Slurm's default (``JobFileAppend=0``)."""
    text = values.get("open_mode")
    if text is None:
        return None
    mode = {"a": "append", "t": "truncate"}.get(text[:1].lower())
    if mode is None:
        raise OptionError(f"invalid --open-mode specification '{text}'")
    return mode


def environment(values, submit_dir: str, environ=os.environ) -> dict:
    """The job's environment for ``--export`` (``ALL`` by default, ``NONE``, or
    ``[ALL,]NAME[=VALUE],...``) from the submitter's ``environ``, without SLURM variables
    of an enclosing job."""
    export = values.get("export") or environ.get("SBATCH_EXPORT") or "ALL"
    words = [word for word in export.split(",") if word]
    first = words[0].upper() if words else "ALL"
    if first == "ALL":
        env = dict(environ)
        words = words[1:]
    elif first == "NONE":
        env = {}
        words = words[1:]
    else:
        env = {}
    env = {name: value for name, value in env.items()
           if not name.startswith(("SLURM_", "SLURMD_", "CORRAL_JOB_", "CORRAL_TASK_"))}
    for word in words:
        name, equals, value = word.partition("=")
        if not name:
            raise OptionError(f"invalid --export specification '{word}': a variable needs "
                              "a name")
        if equals:
            env[name] = value
        elif name in environ:
            env[name] = environ[name]
    env["SLURM_SUBMIT_DIR"] = submit_dir
    env["SLURM_SUBMIT_HOST"] = os.uname().nodename  # gethostname(2), without `socket`
    return env


class JobRequest:
    """Everything a Slurm command asked for, checked, ready to become jobspecs."""

    def __init__(self, values: dict, kind: str, argv: list[str], default_name: str,
                 script: str | None = None, script_arguments=(), submit_dir: str | None = None,
                 environ=os.environ):
        """``kind`` is ``batch`` (sbatch), ``task`` (srun: ``argv`` is the command) or
        ``allocation`` (salloc); ``submit_dir`` and ``environ`` are the submitter's (this
        process's by default)."""
        self.values = values
        self.kind = kind
        self.argv = argv
        self.script = script
        self.shape = Shape(values)
        self.name = values.get("job_name") or default_name
        #: the corral queue; `submit` turns ``-p default`` into the anonymous queue
        self.queue = values.get("partition")
        self.limit = 0
        if values.get("time") is not None:
            try:
                self.limit = times.parse_limit(values["time"])
            except ValueError as exc:
                raise OptionError(str(exc)) from None
        self.begin = None
        if values.get("begin"):
            try:
                self.begin = times.parse_time(values["begin"])
            except ValueError:
                raise OptionError(f"invalid --begin specification '{values['begin']}'") from None
        self.memory = _memory(values)
        if values.get("signal"):
            check_signal(values["signal"])
        self.open_mode = open_mode(values)
        self.dependencies = dependencies.parse(values["dependency"]) if values.get(
            "dependency") else []
        self.submit_dir = submit_dir or os.getcwd()
        self.work_dir = os.path.abspath(os.path.join(self.submit_dir, values.get("chdir") or "."))
        self.env = environment(values, self.submit_dir, environ)
        self.array = parse_array(values["array"]) if values.get("array") is not None else None
        #: the batch script's own arguments (``sbatch job.sh ARG...``)
        self.script_arguments = list(script_arguments)

    def _base_env(self) -> dict:
        shape = self.shape
        env = dict(self.env)
        env["SLURM_JOB_NAME"] = self.name
        env["SLURM_JOB_PARTITION"] = self.values.get("partition") or DEFAULT_PARTITION
        if self.values.get("account"):
            env["SLURM_JOB_ACCOUNT"] = self.values["account"]
        if self.values.get("qos"):
            env["SLURM_JOB_QOS"] = self.values["qos"]
        if shape.ntasks_requested is not None or shape.ntasks_per_node is not None \
                or self.kind != "batch":
            env["SLURM_NTASKS"] = env["SLURM_NPROCS"] = str(shape.ntasks)
        if shape.cpus_per_task_requested is not None:
            env["SLURM_CPUS_PER_TASK"] = str(shape.cpus_per_task)
        if shape.ntasks_per_node is not None:
            env["SLURM_NTASKS_PER_NODE"] = str(shape.ntasks_per_node)
        return env

    def jobspec(self, array_task=None, array_job_id=0, extra_dependencies=()) -> dict:
        shape = self.shape
        env = self._base_env()
        if array_task is not None:
            ids = self.array[0]
            env.update({
                "SLURM_ARRAY_TASK_ID": str(array_task),
                "SLURM_ARRAY_TASK_COUNT": str(len(ids)),
                "SLURM_ARRAY_TASK_MIN": str(min(ids)),
                "SLURM_ARRAY_TASK_MAX": str(max(ids)),
                "SLURM_ARRAY_TASK_STEP": str(_step(ids)),
            })
            if array_job_id:
                env["SLURM_ARRAY_JOB_ID"] = str(array_job_id)
        helper = {"kind": self.kind}
        for name in ("output", "error", "input", "signal"):
            if self.values.get(name):
                helper[name] = self.values[name]
        if self.script is not None:
            helper["script"] = self.script
            if self.script_arguments:
                helper["arguments"] = self.script_arguments
        if self.values.get("label"):
            helper["label"] = True
        if self.open_mode == "append":
            helper["open_mode"] = "append"
        if self.kind == "batch" and "output" not in helper:
            helper["output"] = "slurm-%A_%a.out" if array_task is not None else "slurm-%j.out"
        if self.kind == "task":
            command = launchers.python_command("jobstart", *self.argv)
        elif self.kind == "allocation":
            command = list(ALLOCATION_HOLDER)
        else:
            command = launchers.python_command("jobstart")
        spec = jobspec_module.build(
            command,
            ntasks=shape.ntasks,
            nnodes=shape.nnodes,
            cores_per_task=shape.cpus_per_task,
            gpus_per_task=shape.gpus_per_task,
            exclusive=shape.exclusive if shape.nnodes else None,
            duration=self.limit or None,
            cwd=self.work_dir,
            environment=env,
            queue=self.queue,
            name=self.name,
            dependencies=list(extra_dependencies),
            begin_time=self.begin,
        )
        system = spec["attributes"]["system"]
        if self.kind != "task":
            # The batch script (or salloc's holder) runs once, on the first node.
            spec["tasks"][0]["count"] = {"total": shape.nnodes or 1}
        for name in ("account", "qos", "comment"):
            if self.values.get(name):
                system[name] = self.values[name]
        if self.values.get("constraint"):
            try:
                system["constraints"] = requires.parse(self.values["constraint"],
                                                       "--constraint")
            except ValueError as exc:
                raise OptionError(str(exc)) from None
        if self.values.get("no_requeue"):
            system["requeue"] = False
        elif self.values.get("requeue"):
            system["requeue"] = True
        system["slurm"] = helper
        jobspec_module.validate(spec)
        return spec

    def memo(self, array_task=None, array_job_id=0) -> dict:
        memo = {"cpus": self.shape.cpus, "ntasks": self.shape.ntasks,
                "workdir": self.work_dir, "batch": self.kind == "batch"}
        for name in ("account", "qos"):
            if self.values.get(name):
                memo[name] = self.values[name]
        if self.begin:
            memo["begin"] = self.begin
        if self.values.get("hold"):
            memo["held_by"] = os.getuid()
        if array_task is not None:
            memo["array"] = [array_job_id, array_task]
        memo.update(self.memory)
        return memo

    @property
    def urgency(self) -> int:
        return 0 if self.values.get("hold") else 16


def parse_array(text: str) -> tuple[list[int], int | None]:
    """Task ids and throttle of ``--array`` (``1-10``, ``1,3,5``, ``1-9:2``, ``0-15%4``)."""
    spec, _percent, throttle = text.partition("%")
    ids = []
    try:
        for item in spec.split(","):
            bounds, _colon, step = item.partition(":")
            first, dash, last = bounds.partition("-")
            start = int(first)
            end = int(last) if dash else start
            stride = int(step) if step else 1
            if stride < 1 or end < start:
                raise ValueError
            ids.extend(range(start, end + 1, stride))
        limit = int(throttle) if throttle else None
    except ValueError:
        raise OptionError(f"invalid --array specification '{text}'") from None
    ids = sorted(set(ids))
    if not ids or ids[0] < 0 or ids[-1] >= MAX_ARRAY_SIZE:
        raise OptionError(f"invalid --array specification '{text}' (task ids must be 0 to "
                          f"{MAX_ARRAY_SIZE - 1}, MaxArraySize)")
    if limit is not None and limit < 1:
        raise OptionError(f"invalid --array specification '{text}'")
    return ids, limit


def _step(ids) -> int:
    steps = {b - a for a, b in zip(ids, ids[1:], strict=False)}
    return steps.pop() if len(steps) == 1 else 1


def resolver(client):
    """``resolve(text)`` for `dependencies.to_rfc26`: the corral ids a Slurm id names, in
    order (an array's tasks come listed by state), as scontrol's ``Dependency=`` shows them."""

    def resolve(text):
        found = sorted(job.id for job in records.lookup(client, text))
        if not found:
            raise SubmitError(f"Job dependency problem: job {text} not found")
        return found

    return resolve


def submit(client, request: JobRequest) -> list[int]:
    """Submit ``request`` (every task of an array); the corral ids, the first being the
    array's.  Rejections raise `SubmitError` with the instance's reason."""
    if request.queue == DEFAULT_PARTITION:
        request.queue = _default_partition_queue(client)
    extra = dependencies.to_rfc26(request.dependencies, resolver(client))
    if request.array is None:
        return [_submit_one(client, request.jobspec(extra_dependencies=extra), request,
                            request.memo())]
    ids, throttle = request.array
    from ..cli.interrupt import Interrupted  # arrays only: `corral.cli` costs sbatch 4 ms

    with Interrupted("sbatch") as interrupted:
        job_ids = _submit_array(client, request, ids, throttle, extra, interrupted)
        if interrupted():
            # Slurm submits an array in one request, whole or not at all: so does a Ctrl-C
            # before the array's id is printed.  The last first: a throttled task is gone
            # before the one it waits for ends, so none starts meanwhile.
            _pipelined(client, "job-manager.raise",
                       [{"id": job_id, "type": "cancel", "severity": 0,
                         "note": "sbatch interrupted"} for job_id in reversed(job_ids)])
            raise SubmitError(f"Batch job submission interrupted: the {len(job_ids)} array "
                              "tasks already submitted were cancelled")
    return job_ids


def _submit_array(client, request, ids, throttle, extra, interrupted) -> list[int]:
    """The ids of the array's tasks submitted, all of them unless ``interrupted()`` came
    true before the last wave was sent."""
    from ..cli.progress import Progress

    with Progress("sbatch", len(ids), unit="tasks", enabled=len(ids) > 1) as progress:
        first = _submit_one(client, request.jobspec(ids[0], 0, extra), request,
                            request.memo(ids[0]))
        job_ids = [first]
        # A throttled task waits for the one ``throttle`` places before it, whose id is
        # known only once submitted: submit in waves of ``throttle`` tasks.
        wave = throttle or len(ids)
        for start in range(1, len(ids), wave):
            if interrupted():
                break
            batch, memos = [], []
            for index in range(start, min(start + wave, len(ids))):
                task_dependencies = list(extra)
                if throttle and index >= throttle:
                    task_dependencies.append(f"afterany:{job_ids[index - throttle]}")
                batch.append(request.jobspec(ids[index], first, task_dependencies))
                memos.append({records.SLURM_MEMO: request.memo(ids[index], first)})
            done = len(job_ids)
            for result in client.submit_many(
                    batch, urgency=request.urgency, memos=memos,
                    progress=lambda count, done=done: progress.update(done + count)):
                if isinstance(result, RPCError):
                    raise SubmitError(_rejection(result, request.kind))
                job_ids.append(result)
    return job_ids


def _default_partition_queue(client) -> str | None:
    """The queue ``-p default`` names: one called so, else the anonymous queue that sinfo
    shows as ``default`` (Snakemake asks sinfo for the default partition and passes it)."""
    names = [queue["name"] for queue in client.rpc("job-manager.queue-status", {})["queues"]]
    return DEFAULT_PARTITION if DEFAULT_PARTITION in names or all(names) else None


def _submit_one(client, spec, request, memo) -> int:
    """Submit one job with its `memo`, which the listings read (with the submit: a job that
    ends at once has it too)."""
    try:
        return client.submit(spec, urgency=request.urgency,
                             memo={records.SLURM_MEMO: memo})
    except RPCError as exc:
        raise SubmitError(_rejection(exc, request.kind)) from None


#: How each command introduces a refused submission, in Slurm's words (sbatch.c, srun's
#: allocate.c, salloc.c).
_REFUSED = {"batch": "Batch job submission failed", "task": "Unable to allocate resources",
            "allocation": "Job submit/allocate failed"}


def _rejection(exc, kind: str) -> str:
    return f"{_REFUSED[kind]}: {exc.strerror or exc}"


#: Requests about an array's tasks in flight at once (the cancels of an interrupted submission):
#: thousands of them cost round trips, not one round trip each.
_WINDOW = 256


def _pipelined(client, topic: str, payloads: list):
    """One request per payload, `_WINDOW` in flight; one refused (a job already gone) is
    passed over."""
    sent = []
    for payload in payloads:
        sent.append(client.send(topic, payload))
        if len(sent) >= _WINDOW:
            _answered(client, sent.pop(0))
    for tag in sent:
        _answered(client, tag)


def _answered(client, tag):
    try:
        client.answer(tag)
    except RPCError:
        pass
