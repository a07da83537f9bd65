"""``srun``: outside an allocation, make a job of N tasks and run it as ``corral run`` does —
its output on srun's stdout and stderr (``--label`` prefixes each line with its task), its
exit code srun's, a failed task reported as ``srun: error: HOST: task N: Exited with exit code
C``.  Inside an allocation (``SLURM_JOB_ID`` set: a batch script, ``salloc``) it runs a job
step in that allocation instead (`corral.jobmanager.step`), with the same output, labels,
error lines and exit code; ``-o``/``-e`` name files srun writes the step's output to.
"""

import errno
import os
import signal
import sys
import threading

from . import launchers, options, patterns, records, run, submission

#: ``--cpu-bind`` words that say what corral does anyway: each task is bound to the cores of
#: its own slot (Slurm's ``cores``), and nothing is reported (``quiet``).
_CPU_BIND = {"q", "quiet", "core", "cores"}


def _check_cpu_bind(text: str | None):
    for word in (text or "").split(","):
        if word.lower() not in _CPU_BIND:
            raise options.OptionError(
                f"--cpu-bind={text}: corral binds each task to its own cores (cores, quiet)")


def _main(argv) -> int:
    values, command = options.parse("srun", argv, options.JOB_OPTIONS + options.SRUN_ONLY)
    if values.get("cpu_bind") is not None:
        _check_cpu_bind(values["cpu_bind"])
    if not command:
        print("srun: fatal: No command given to execute.", file=sys.stderr)
        return 1
    if os.environ.get("SLURM_JOB_ID"):
        return _run_step(int(os.environ["SLURM_JOB_ID"]), values, command)
    request = submission.JobRequest(values, "task", command,
                                    os.path.basename(command[0]))
    from ..client import connect

    with connect() as client:
        job_id = submission.submit(client, request)[0]
        return attach(client, job_id, "srun")


def attach(client, job_id: int, command: str) -> int:
    """Copy the job's output to ours until it ends; its exit status, Slurm's words for an
    exception (cancelled, time limit, refused at start)."""
    from ..cli.run import exit_status

    try:
        for stream, data in client.output(job_id, watch=True):
            target = sys.stdout if stream == "stdout" else sys.stderr
            target.write(data)
            target.flush()
    except KeyboardInterrupt:
        # One Ctrl-C is enough, as for a step inside an allocation (where Slurm's srun asks
        # for a second within a second), with the same words.
        print(f"{command}: forcing job termination", file=sys.stderr, flush=True)
        client.cancel(job_id)
        print(f"{command}: Job step aborted: StepId={job_id}.0", file=sys.stderr, flush=True)
    client.wait_event(job_id, "clean")
    job = client.job(job_id)
    exception = job.get("exception")
    if exception is not None and exception.get("severity") == 0:
        what = {"cancel": "CANCELLED", "timeout": "DUE TO TIME LIMIT"}.get(exception["type"])
        if what == "CANCELLED":
            print(f"{command}: error: *** JOB {job_id} CANCELLED ***", file=sys.stderr)
        elif what:
            print(f"{command}: error: *** JOB {job_id} CANCELLED {what} ***", file=sys.stderr)
        else:
            note = f": {exception['note']}" if exception.get("note") else ""
            print(f"{command}: error: job {job_id}: {exception['type']}{note}", file=sys.stderr)
    return exit_status(job)


def _step_request(job_id: int, values: dict, command: list[str]) -> dict:
    """The ``job-manager.step-create`` request: the shape asked for, else the allocation's
    (``SLURM_NTASKS``, ``SLURM_CPUS_PER_TASK``; as many nodes as ``SLURM_NNODES`` when the
    tasks are enough to fill them), as Slurm's srun inherits them."""
    shape = submission.Shape(values)
    env = dict(os.environ)
    shaped = any(values.get(name) for name in ("ntasks", "nodes", "ntasks_per_node"))
    ntasks = shape.ntasks if shaped else int(env.get("SLURM_NTASKS", "1"))
    cpus = shape.cpus_per_task_requested or int(env.get("SLURM_CPUS_PER_TASK", "1"))
    nnodes = shape.nnodes if values.get("nodes") else None
    if nnodes is None and not values.get("ntasks_per_node"):
        nnodes = min(int(env.get("SLURM_NNODES", "1")), ntasks)
    env.update(SLURM_NTASKS=str(ntasks), SLURM_NPROCS=str(ntasks))
    if shape.cpus_per_task_requested:
        env["SLURM_CPUS_PER_TASK"] = str(cpus)
    for stream, pattern in _file_patterns(values).items():
        if patterns.per_task(pattern):
            env[f"CORRAL_STEP_{stream.upper()}"] = os.path.abspath(pattern)
    env["CORRAL_STEP_APPEND"] = "1" if submission.open_mode(values) == "append" else "0"
    from ..cli.run import stdin_to_forward

    return {"id": job_id, "ntasks": ntasks, "cpus_per_task": cpus,
            "gpus_per_task": shape.gpus_per_task,
            "nnodes": nnodes,
            "ntasks_per_node": shape.ntasks_per_node,
            "command": launchers.python_command("jobstart", *command), "env": env,
            "cwd": os.getcwd(), "name": values.get("job_name") or os.path.basename(command[0]),
            "label": bool(values.get("label")), "stdin": stdin_to_forward()}


def _run_step(job_id: int, values: dict, command: list[str]) -> int:
    """Run a step of job ``job_id``: wait for its cores if they are busy, copy its output,
    forward stdin to its task 0; its exit code, the highest of its tasks'."""
    from ..cli.run import send_stdin
    from ..client import RPCError, connect
    from ..waitstatus import returncode

    request = _step_request(job_id, values, command)
    append = submission.open_mode(values) == "append"
    client = connect()
    try:
        answers = client.stream("job-manager.step-create", request)
        try:
            started = next(answers)
            if "waiting" in started:
                print(f"srun: Job {job_id} step creation temporarily disabled, retrying "
                      f"({started['waiting']})", file=sys.stderr, flush=True)
                started = next(answers)
                print(f"srun: Step created for StepId={job_id}.{started['step']}",
                      file=sys.stderr, flush=True)
        except RPCError as exc:
            print(f"srun: error: Unable to create step for job {job_id}: {exc.strerror}",
                  file=sys.stderr)
            return 1
        step = started["step"]
        if request["stdin"]:
            threading.Thread(target=send_stdin, args=(client.uri, job_id, step),
                             daemon=True, name="srun-stdin").start()
        targets = _targets(values, job_id, step, started["nodelist"], append)
        client, finished = _follow(client, answers, job_id, step, targets)
    finally:
        client.close()
    if finished.get("note"):  # a task could not start
        print(f"srun: error: {finished['note']}", file=sys.stderr)
        return returncode(finished["status"]) or 1
    return returncode(finished["status"])


def _follow(client, answers, job_id: int, step: int, targets: dict):
    """Copy the step's output until its tasks are gone; ``(client, the step's end)``.  When
    the controller goes away, wait for it as `corral run` does (the next one takes the step
    back), go on from the bytes already copied, and read the end from the job's eventlog:
    the step-create stream went with the old connection."""
    from ..cli.run import CONNECTION_LOST, reconnect
    from ..client import RPCError

    offsets = {}
    while True:
        try:
            for chunk in client.output_chunks(job_id, watch=True, offsets=offsets, step=step):
                target = targets[chunk["stream"]]
                target.write(chunk["data"])
                target.flush()
                if "end" in chunk:
                    offsets[chunk["stream"]] = chunk["end"]
            if answers is not None:
                finished = next(answers)
                for _end in answers:  # the stream's end
                    pass
                return client, finished
            for event in client.watch_eventlog(job_id):
                if event["name"] == "step-finish" and event["context"]["step"] == step:
                    return client, event["context"]
            raise RPCError(errno.ENOENT, f"job {job_id} ended without an end of step {step}")
        except KeyboardInterrupt:
            # Slurm's srun asks for a second Ctrl-C within a second; one is enough here.
            print("srun: forcing job termination", file=sys.stderr, flush=True)
            client.rpc("job-manager.step-kill", {"id": job_id, "step": step,
                                                 "signal": int(signal.SIGKILL)})
            print(f"srun: Job step aborted: StepId={job_id}.{step}", file=sys.stderr,
                  flush=True)
        except (RPCError, ConnectionError) as exc:
            if exc.errno not in CONNECTION_LOST:
                raise
            client = reconnect(client, job_id, "srun", exc)
            answers = None


def _file_patterns(values: dict) -> dict:
    """``{stream: pattern}`` of the files ``-o``/``-e`` name (``-e`` defaults to ``-o``)."""
    named = {"stdout": values.get("output"), "stderr": values.get("error") or values.get(
        "output")}
    return {stream: pattern for stream, pattern in named.items() if pattern}


def _targets(values: dict, job_id: int, step: int, nodelist: str, append: bool) -> dict:
    """Where the step's streams go: srun's own, or the ``-o``/``-e`` files (``%j``, ``%s``,
    ``%u``, ``%x``, ``%N``, and an array task's ``%A`` and ``%a`` expanded), truncated
    unless ``append`` (``--open-mode=append``).  A file per task (``%t``) is written by the
    task itself, as Slurm's slurmstepd does; none of that stream comes here."""
    pattern_values = {"j": str(job_id), "J": f"{job_id}.{step}", "s": str(step),
                      "u": records.user_name(os.getuid()), "x": os.environ.get(
                          "SLURM_JOB_NAME", ""), "N": nodelist.split(",")[0], "n": "0",
                      "A": os.environ.get("SLURM_ARRAY_JOB_ID", str(job_id)),
                      "a": os.environ.get("SLURM_ARRAY_TASK_ID", "4294967294")}
    targets = {"stdout": sys.stdout, "stderr": sys.stderr}
    opened = {}
    for stream, pattern in _file_patterns(values).items():
        if patterns.per_task(pattern):
            continue
        path = patterns.expand(pattern, pattern_values)
        if path not in opened:
            opened[path] = open(path, "a" if append else "w")  # noqa: SIM115 (open until srun exits)
        targets[stream] = opened[path]
    return targets


def main(argv) -> int:
    return run("srun", _main, argv)
