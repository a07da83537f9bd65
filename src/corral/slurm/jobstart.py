"""The in-job helper: the one task command of every job the Slurm commands submit.

It runs where the job's task runs, as the job's user, and gives the job what Slurm's
slurmstepd would: the variables known only once the job has its nodes (``SLURM_JOB_ID``,
``SLURM_JOB_NODELIST``, ``SLURM_TASKS_PER_NODE``, ``SLURM_CPUS_ON_NODE``, ``SLURMD_NODENAME``,
``SLURM_PROCID``, ``SLURM_LOCALID``, ``SLURM_NODEID``, ...), then

* ``batch``: opens ``-o``/``-e``/``-i`` with their ``%`` patterns expanded and replaces itself
  with the script (kept in the jobspec, run from memory so that later edits of the file do
  not matter, as Slurm copies it); on the other nodes it exits at once.  With ``--signal`` it
  stays as the script's parent to send the signal before the time limit.
* ``task`` (srun): runs one task, labels its lines (``--label``), and reports a failure as
  srun does (``srun: error: HOST: task N: Exited with exit code C``).
* a task of a job step (``srun`` inside an allocation, `corral.jobmanager.step`): the same,
  with the step's variables (``SLURM_STEP_ID``, ``SLURM_PROCID``, ...) from the
  ``CORRAL_STEP_*`` ones the job manager gave the step; it needs no request of its own.

Which task runs on which node follows corral's exec placement (slots in rank order).
"""

import os
import signal
import subprocess
import sys

from .. import hostlist, resource_set, signals
from ..client import connect
from ..prep.environment import compress_counts
from . import DEFAULT_PARTITION, patterns, records


def _placement(jobspec: dict, R: dict, ntasks: int | None = None) -> list[int]:
    """The allocation rank of each task, as corral's exec places them."""
    resources = jobspec["resources"][0]
    slot = resources if resources["type"] == "slot" else resources["with"][0]
    slots_per_node = slot["count"] if resources["type"] == "node" else None
    cores_per_slot = next(item["count"] for item in slot["with"] if item["type"] == "core")
    places = []
    for rank, (cores, _gpus) in sorted(resource_set.ranks_of(R).items()):
        count = slots_per_node or max(len(cores) // cores_per_slot, 1)
        places.extend([rank] * count)
    count = jobspec["tasks"][0]["count"]
    if ntasks is None and "per_slot" in count:
        return [rank for rank in places for _ in range(count["per_slot"])]
    total = ntasks if ntasks is not None else count["total"]
    base, extra = divmod(total, len(places))
    return [rank for index, rank in enumerate(places)
            for _ in range(base + (1 if index < extra else 0))]


def start_environment(jobspec: dict, R: dict, job_id: int, task_rank: int,
                      helper: dict) -> tuple[dict, str]:
    """The variables known at start, for task ``task_rank``; and its node's name."""
    system = jobspec["attributes"]["system"]
    env = system.get("environment", {})
    ranks = resource_set.ranks_of(R)
    ordered = sorted(ranks)
    hosts = hostlist.expand(resource_set.nodelist(R))
    batch = helper["kind"] != "task"
    placement = _placement(jobspec, R, int(env.get("SLURM_NTASKS", len(ordered)))
                           if batch else None)
    rank = ordered[0] if batch else placement[task_rank]
    node_index = ordered.index(rank)
    nodelist = hostlist.compress(hosts)
    per_node = [placement.count(each) for each in ordered]
    values = {
        "SLURM_JOB_ID": str(job_id), "SLURM_JOBID": str(job_id),
        "SLURM_JOB_NODELIST": nodelist, "SLURM_NODELIST": nodelist,
        "SLURM_JOB_NUM_NODES": str(len(ordered)), "SLURM_NNODES": str(len(ordered)),
        "SLURM_TASKS_PER_NODE": compress_counts(per_node),
        "SLURM_JOB_CPUS_PER_NODE": compress_counts(len(ranks[each][0]) for each in ordered),
        "SLURM_CPUS_ON_NODE": str(len(ranks[rank][0])),
        "SLURM_JOB_PARTITION": system.get("queue") or DEFAULT_PARTITION,
        "SLURMD_NODENAME": hosts[node_index], "SLURM_NODEID": str(node_index),
        "SLURM_PROCID": "0" if batch else str(task_rank),
        "SLURM_LOCALID": "0" if batch else str(placement[:task_rank].count(rank)),
    }
    if "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_JOB_ID" not in env:
        values["SLURM_ARRAY_JOB_ID"] = str(job_id)
    if not batch:
        values.update({"SLURM_STEP_ID": "0", "SLURM_STEPID": "0",
                       "SLURM_STEP_NUM_TASKS": str(len(placement)),
                       "SLURM_STEP_NODELIST": nodelist,
                       "SLURM_STEP_NUM_NODES": str(len(ordered)),
                       "SLURM_STEP_TASKS_PER_NODE": compress_counts(per_node)})
    return values, hosts[node_index]


def _pattern_values(env: dict, node: str, task_rank: int) -> dict:
    job_id = env["SLURM_JOB_ID"]
    step = env.get("SLURM_STEP_ID")
    return {"j": job_id, "J": f"{job_id}.{step}" if step else job_id,
            "A": env.get("SLURM_ARRAY_JOB_ID", job_id),
            "a": env.get("SLURM_ARRAY_TASK_ID", "4294967294"), "x": env.get("SLURM_JOB_NAME", ""),
            "u": records.user_name(os.getuid()), "N": node.split(".")[0],
            "n": env.get("SLURM_NODEID", "0"), "t": str(task_rank), "s": step or "batch"}


def _redirect(helper: dict, values: dict):
    """Open ``-i``/``-o``/``-e`` on 0/1/2; ``-e`` defaults to ``-o``'s file, truncated unless
    ``--open-mode=append``."""
    if helper.get("input"):
        descriptor = os.open(patterns.expand(helper["input"], values), os.O_RDONLY)
        os.dup2(descriptor, 0)
        os.close(descriptor)
    output = helper.get("output")
    files = _open_files({1: output, 2: helper.get("error") or output}, values,
                       helper.get("open_mode") == "append")
    for fd, descriptor in files.items():
        os.dup2(descriptor, fd)
    _close(files)


def _open_files(patterns_by_fd: dict, values: dict, append: bool) -> dict:
    """``{fd: descriptor}`` of the files ``patterns_by_fd`` names (``{1: pattern, 2:
    pattern}``, None for a stream left as it is), one descriptor when both name the same
    file; truncated unless ``append``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_APPEND if append else os.O_TRUNC)
    opened, files = {}, {}
    try:
        for fd, pattern in patterns_by_fd.items():
            if pattern:
                path = patterns.expand(pattern, values)
                if path not in opened:
                    opened[path] = os.open(path, flags, 0o644)
                files[fd] = opened[path]
    except OSError:
        _close(files)
        raise
    return files


def _close(files: dict):
    for descriptor in set(files.values()):
        os.close(descriptor)


def _cannot_open(node: str, exc: OSError) -> int:
    _say(f"slurmstepd-{node}: error: cannot open {exc.filename}: {exc.strerror}")
    return 1


def _run_batch(helper, env, R):
    script = helper["script"].encode()
    memory = os.memfd_create("slurm_script", 0)
    os.write(memory, script)
    os.lseek(memory, 0, os.SEEK_SET)
    path = f"/proc/self/fd/{memory}"
    argv = [path, *helper.get("arguments", [])]
    if not helper.get("signal"):
        os.execve(path, argv, env)
    child = subprocess.Popen(argv, env=env, pass_fds=(memory,))
    job_id = int(env["SLURM_JOB_ID"])
    _arm_signal(helper["signal"], R, lambda signum, shell_only: child.send_signal(signum)
                if shell_only else _signal_steps(job_id, signum))
    return _wait(child)


def _signal_steps(job_id: int, signum: int):
    from .steps import signal_running

    with connect() as client:
        signal_running(client, job_id, signum)


def _arm_signal(text, R, deliver):
    """``--signal=[B:]SIG[@TIME]``: ``deliver(SIG, B: given)`` TIME (60) seconds before the
    time limit, or at once when the limit is nearer (Slurm sends it up to a minute early)."""
    import threading
    import time

    target, _colon, rest = text.rpartition(":")
    name, _at, before = rest.partition("@")
    signum = signals.number(name)  # checked at submit (`submission.check_signal`)
    expiration = R["execution"].get("expiration") or 0
    if not expiration:
        return

    def send():
        try:
            deliver(signum, target == "B")
        except ProcessLookupError:
            pass

    delay = max(expiration - int(before or 60) - time.time(), 0)
    timer = threading.Timer(delay, send)
    timer.daemon = True
    timer.start()


def _wait(child) -> int:
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, signal.SIG_IGN)  # the task's process group gets them too
    status = child.wait()
    return status


def _exit_like(status: int) -> int:
    if status < 0:
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    return status


def _say(line: str):
    """One line on our stderr in one write: each task has a wrapper of its own, and lines
    that two of them print at once must not interleave (print writes the newline apart)."""
    os.write(2, f"{line}\n".encode(errors="backslashreplace"))


def _run_task(argv, env, helper, node, task_rank, ntasks, R=None, files=None):
    """Run one task (of srun's job, or of a step); with ``--signal`` (srun's job, whose ``R``
    is given) send it the signal before the time limit.  ``files`` (``{fd: descriptor}``)
    are where its stdout (1) and stderr (2) go instead of ours; what this wrapper says about
    the task stays on ours, as srun's own words."""
    width = len(str(ntasks - 1))
    label = helper.get("label")
    files = files or {}
    pipes = subprocess.PIPE if label else None
    try:
        child = subprocess.Popen(argv, env=env, stdout=pipes or files.get(1),
                                 stderr=pipes or files.get(2))
    except OSError as exc:
        _say(f"slurmstepd-{node}: error: execve(): {argv[0]}: {exc.strerror}")
        _say(f"srun: error: {node}: task {task_rank}: Exited with exit code 2")
        return 2
    if helper.get("signal") and R is not None:
        _arm_signal(helper["signal"], R, lambda signum, _shell_only: child.send_signal(signum))
    if label:
        _copy_labelled(child, f"{task_rank:>{width}}: ".encode(), files)
    status = _wait(child)
    if status > 0:
        _say(f"srun: error: {node}: task {task_rank}: Exited with exit code {status}")
    elif status < 0:
        _say(f"srun: error: {node}: task {task_rank}: {signal.strsignal(-status)}")
    return status


def _copy_labelled(child, prefix: bytes, files: dict):
    import selectors

    selector = selectors.DefaultSelector()
    targets = {pipe: open(files[fd], "wb", closefd=False) if fd in files else default  # noqa: SIM115
               for pipe, fd, default in ((child.stdout, 1, sys.stdout.buffer),
                                         (child.stderr, 2, sys.stderr.buffer))}
    partial = {child.stdout: b"", child.stderr: b""}
    for pipe in targets:
        selector.register(pipe, selectors.EVENT_READ)
    while targets:
        for key, _events in selector.select():
            pipe = key.fileobj
            data = os.read(pipe.fileno(), 65536)
            target = targets[pipe]
            if not data:
                if partial[pipe]:
                    target.write(prefix + partial[pipe] + b"\n")
                target.flush()
                selector.unregister(pipe)
                del targets[pipe]
                continue
            lines = (partial[pipe] + data).split(b"\n")
            partial[pipe] = lines.pop()
            for line in lines:
                target.write(prefix + line + b"\n")
            target.flush()


def step_environment(env: dict, task_rank: int) -> tuple[dict, str]:
    """The variables of task ``task_rank`` of a job step, and its node's name."""
    nodes = [int(index) for index in env["CORRAL_STEP_TASK_NODES"].split(",")]
    hosts = hostlist.expand(env["CORRAL_STEP_NODELIST"])
    node_index = nodes[task_rank]
    step = env["CORRAL_STEP_ID"]
    values = {
        "SLURM_STEP_ID": step, "SLURM_STEPID": step,
        "SLURM_PROCID": str(task_rank), "SLURM_LOCALID": str(nodes[:task_rank].count(node_index)),
        "SLURM_NODEID": str(node_index), "SLURMD_NODENAME": hosts[node_index],
        "SLURM_STEP_NUM_TASKS": str(len(nodes)), "SLURM_STEP_NODELIST": env["CORRAL_STEP_NODELIST"],
        "SLURM_STEP_NUM_NODES": str(len(hosts)),
        "SLURM_STEP_TASKS_PER_NODE": compress_counts(nodes.count(index)
                                                     for index in range(len(hosts))),
    }
    return values, hosts[node_index]


def _run_step_task(argv) -> int:
    task_rank = int(os.environ.get("CORRAL_TASK_RANK", "0"))
    env = dict(os.environ)
    values, node = step_environment(env, task_rank)
    label = env.get("CORRAL_STEP_LABEL") == "1"
    per_task = {1: env.get("CORRAL_STEP_STDOUT"), 2: env.get("CORRAL_STEP_STDERR")}
    append = env.get("CORRAL_STEP_APPEND") == "1"
    for name in [name for name in env if name.startswith(("CORRAL_TASK_", "CORRAL_STEP_"))]:
        del env[name]
    env.update(values)
    try:  # srun's per-task files (``%t``), which each task writes itself, as slurmstepd does
        files = _open_files(per_task, _pattern_values(env, node, task_rank), append)
    except OSError as exc:
        return _cannot_open(node, exc)
    try:
        return _run_task(argv, env, {"label": label}, node, task_rank,
                         int(values["SLURM_STEP_NUM_TASKS"]), files=files)
    finally:
        _close(files)


def main(argv) -> int:
    if "CORRAL_STEP_ID" in os.environ:
        return _exit_like(_run_step_task(argv))
    job_id = int(os.environ["CORRAL_JOB_ID"])
    task_rank = int(os.environ.get("CORRAL_TASK_RANK", "0"))
    with connect() as client:
        answer = client.job_info(job_id, "jobspec", "R")
    jobspec, R = answer["jobspec"], answer["R"]
    helper = jobspec["attributes"]["system"]["slurm"]
    if helper["kind"] != "task" and task_rank != 0:
        return 0  # the batch script runs on the first node only
    values, node = start_environment(jobspec, R, job_id, task_rank, helper)
    env = dict(os.environ)
    for name in [name for name in env if name.startswith(("CORRAL_TASK_",))]:
        del env[name]
    env.update(values)
    try:
        _redirect(helper, _pattern_values(env, node, task_rank))
    except OSError as exc:
        return _cannot_open(node, exc)
    if helper["kind"] == "batch":
        return _exit_like(_run_batch(helper, env, R))
    ntasks = int(env.get("SLURM_NTASKS", "1"))
    return _exit_like(_run_task(argv, env, helper, node, task_rank, ntasks, R))
