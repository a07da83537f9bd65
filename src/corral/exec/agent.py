"""The node agent: runs a job's tasks on one node and reports back by message.

It receives ``start`` (the tasks of one rank, with their cores, command, environment and
output paths; output kept with the job comes through pipes, see `exec.output`; with
``step``, the tasks of one step of a running job, kept apart from the job's own under
``(job, step)``, every message about them naming the step), ``kill``
(a signal for every task of a job) and ``stdin`` (a chunk for task 0, see `exec.stdin`), and
sends ``started``, ``failed`` (a task could not start; the others are killed),
``output-lost`` (output kept with the job could not be written), ``stdin-written`` (a chunk
is in task 0's pipe) and ``finished`` (every task has exited; the greatest wait status).
It never touches the job manager: everything goes through ``send``, so the same agent can sit
behind a network transport.  The paths a job names, its working directory and
its output files, are opened with its user's rights (`corral.identity`), never with the
agent's.

It is also the node's side of PrEp (Slurm's slurmd): ``prolog`` and ``epilog`` carry a job's
``JobEnv`` and its launch credential; the agent refuses a credential the controller did not
sign, runs the node hooks of its `PrepHost` in a thread of their own (a hook may take minutes;
the event loop must not wait), and answers ``prolog-done`` / ``epilog-done`` with the status.
The epilog of a job runs only after that job's prolog here has ended and after its last task
here is gone, even when it never had a task here.  A prolog whose job ended (a ``kill``) may
finish, as in Slurm, but for `PROLOG_CANCEL_GRACE` seconds at most: then its scripts are
killed, and a hook still running `PROLOG_ABANDON_GRACE` seconds later is no longer waited for,
so a prolog without a timeout cannot hold a cancelled job's node for ever.
A ``start`` with a ``prolog`` (``PrologFlags=NoHold``) runs the prolog first and starts the
tasks only if it succeeded.
"""

import asyncio
import errno
import logging
import os
import signal
import threading

from .. import identity as identities
from ..prep import ERROR, JobEnv
from ..waitstatus import exit_and_signal
from . import launch, stdin
from .output import JobOutput
from .stdin import TaskInput

log = logging.getLogger("corral.agent")

#: Seconds a node prolog may still run once its job ended, before its scripts are killed.
PROLOG_CANCEL_GRACE = 5.0
#: Seconds after that kill before a hook that did not stop is no longer waited for.
PROLOG_ABANDON_GRACE = 2.0
_DIRECTORY_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
#: A FIFO without a reader answers ENXIO at once instead of blocking the event loop.
_USER_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NONBLOCK


class AgentJob:
    __slots__ = ("id", "step", "key", "tasks", "remaining", "status", "failed", "started_sent",
                 "stopped", "output", "stdin")

    def __init__(self, job_id, step=None):
        self.id = job_id
        self.step = step  # a job step's number; None for the job's own tasks
        self.key = job_id if step is None else (job_id, step)  # in `NodeAgent.jobs`
        self.output = None  # JobOutput when the job's output is kept with it
        self.stdin = None  # TaskInput of task 0, when it is here and the job sends stdin
        self.tasks = []
        self.remaining = 0
        self.status = 0
        self.failed = False
        self.started_sent = False
        self.stopped = False  # told to stop before its tasks existed (NoHold prolog)


class NodeAgent:
    def __init__(self, loop, rank: int, name: str, send, prep=None, key=None):
        """``prep`` is the process's `PrepHost` (node role) and ``key`` the controller's
        `CredentialKey`: a start request must carry a launch token signed with it, and a
        PrEp hook a credential signed with it; without them the agent refuses both."""
        self.loop = loop
        self.rank = rank
        self.name = name
        self.send = send
        self.prep = prep
        self.key = key
        self.jobs: dict[int | tuple[int, int], AgentJob] = {}  # jobs, and (job, step)
        self.prologs: dict[int, asyncio.Task] = {}  # running node prologs, by job
        self._cancelled_prologs: set[int] = set()  # of jobs that ended while they ran
        self._gone_waiters: dict[int, list[asyncio.Future]] = {}  # epilogs awaiting tasks
        self._epilogs: set[asyncio.Task] = set()

    def handle(self, msg: dict):
        kind = msg["type"]
        if kind == "start":
            self._start(msg)
        elif kind == "kill":
            if "step" in msg:
                self._kill_step(_key(msg), msg["signal"])
            else:
                self._kill(msg["job"], msg["signal"])
        elif kind == "stdin":
            self._stdin(msg)
        elif kind == "prolog":
            self._prolog(msg)
        elif kind == "epilog":
            task = self.loop.create_task(self._epilog(msg))
            self._epilogs.add(task)  # the loop keeps only a weak reference
            task.add_done_callback(self._epilogs.discard)
        else:
            log.error("node agent %s: unknown message type %r", self.name, kind)

    # --- start ----------------------------------------------------------------------------

    def _start(self, msg):
        job_id = msg["job"]
        record = AgentJob(job_id, msg.get("step"))
        self.jobs[record.key] = record
        prolog = msg.get("prolog")
        if prolog is None:
            self._spawn(record, msg)
            return

        def after_prolog(status):
            if status == 0 and not record.stopped:
                self._spawn(record, msg)
            else:
                self._maybe_finished(record)

        self._prolog(dict(prolog, job=job_id), after_prolog)

    def _spawn(self, record: AgentJob, msg):
        job_id = record.id
        if self.key is None or not self.key.check_launch_token(msg):
            log.error("node agent %s: job %d: start refused: invalid launch token", self.name,
                      job_id)
            self._fail(record, f"{self.name}: start refused: invalid launch credential")
            self._maybe_finished(record)
            return
        close_fds = []
        try:
            identity = identities.of_user(msg["userid"])
            cwd_fd, note = self._working_directory(record, msg["cwd"], identity)
            close_fds.append(cwd_fd)
            stdout_fd, stderr_fd = self._output(record, msg, identity, close_fds)
        except OSError as exc:
            for fd in close_fds:
                os.close(fd)
            self._fail(record, f"{self.name}: cannot start job: {exc.strerror or exc}")
            self._maybe_finished(record)
            return
        output = record.output
        if note is not None:
            _write_stderr(record, stderr_fd, note)
        argv = msg["command"]
        env, job_vars = msg["env"], msg.get("job_vars", {})
        try:
            for task in msg["tasks"]:
                task_vars = dict(job_vars)
                task_vars["CORRAL_TASK_RANK"] = str(task["rank"])
                if task["gpus"]:
                    task_vars["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, task["gpus"]))
                pipes = {}
                if output is not None:
                    try:
                        pipes = output.task_pipes(task["rank"])
                    except OSError as exc:  # no file descriptor left: the job fails
                        exc = OSError(exc.errno, f"cannot create its output pipes: "
                                                 f"{exc.strerror}")
                        self._start_failed(record, task, msg, exc, stderr_fd)
                        break
                stdin_fd = None
                try:
                    if task["rank"] == 0 and msg.get("stdin"):
                        stdin_fd = self._task_input(record)
                    process = launch.spawn(
                        self.loop, task["rank"], argv, env, cwd_fd,
                        launch.usable_cpus(task["cores"]), pipes.get("stdout", stdout_fd),
                        pipes.get("stderr", stderr_fd),
                        lambda t, r=record: self._task_exited(r, t), identity, stdin_fd,
                        task_vars,
                    )
                except OSError as exc:
                    self._start_failed(record, task, msg, exc, stderr_fd)
                    break
                finally:
                    for end in pipes.values():
                        os.close(end)
                    if stdin_fd is not None:
                        os.close(stdin_fd)
                record.tasks.append(process)
                record.remaining += 1
        finally:
            for fd in close_fds:
                os.close(fd)
        if not record.failed:
            record.started_sent = True
            self.send(_about(record, "started", rank=self.rank))
        self._maybe_finished(record)

    def _task_input(self, record: AgentJob) -> int:
        """A pipe for task 0's stdin: its read end (for the task; the caller closes it once
        the task has it); the write end becomes ``record.stdin``."""
        read_end, write_end = os.pipe2(os.O_CLOEXEC)

        def acknowledge():
            self.send(_about(record, "stdin-written", rank=self.rank))

        record.stdin = TaskInput(self.loop, write_end, acknowledge)
        return read_end

    def _stdin(self, msg):
        """A chunk of task 0's stdin (``eof``: the last); acknowledged once written, or at
        once when there is no task to take it."""
        record = self.jobs.get(_key(msg))
        try:
            data = stdin.decode(msg.get("data") or "")
        except ValueError:
            log.error("node agent %s: job %d: malformed stdin chunk", self.name, msg["job"])
            data = b""
        if record is None or record.stdin is None:
            self.send(dict(_key_fields(msg), type="stdin-written", rank=self.rank))
            return
        record.stdin.feed(data, bool(msg.get("eof")))

    def _start_failed(self, record, task, msg, exc, stderr_fd):
        """A task that could not be started ends the job as Flux's shell does: exit code 127
        for a command not found, 126 for one that may not be run, 1 otherwise."""
        reason = f"{msg['command'][0]}: {exc.strerror or exc}"
        where = f"task {task['rank']} ({self.name})"
        code = {errno.ENOENT: 127, errno.EACCES: 126, errno.EPERM: 126}.get(exc.errno, 1)
        record.status = max(record.status, code << 8)
        self._fail(record, f"{where}: start failed: {reason}", record.status)
        _write_stderr(record, stderr_fd, f"corral: {where}: start failed: {reason}\n")

    def _working_directory(self, record, cwd: str, identity) -> tuple[int, str | None]:
        """The directory the tasks start in, opened (``O_PATH``) with the job user's rights,
        so that no task starts below a directory its user cannot enter; and the line for the
        job's stderr when that is /tmp instead, as Slurm's slurmstepd does when the job's
        directory cannot be entered."""
        try:
            return identities.open_as(identity, os.path.join(cwd, "."), _DIRECTORY_FLAGS), None
        except OSError as exc:
            reason = exc.strerror
        log.error("node agent %s: job %d: couldn't chdir to `%s': %s: going to /tmp instead",
                  self.name, record.id, cwd, reason)
        note = (f"corral: {self.name}: couldn't chdir to `{cwd}': {reason}: going to /tmp "
                "instead\n")
        try:
            return identities.open_as(identity, "/tmp/.", _DIRECTORY_FLAGS), note
        except OSError as exc:
            raise OSError(exc.errno, f"couldn't chdir to `{cwd}' nor to /tmp: "
                                     f"{exc.strerror}") from None

    def _output(self, record, msg, identity, close_fds: list) -> tuple:
        """The tasks' stdout and stderr: ``(stdout fd, stderr fd)``, None for a stream kept
        with the job (it goes through pipes, per task: ``record.output``; with ``label``,
        every stream does).  Files the user named are opened here with the user's rights
        (created as the user's); their descriptors are added to ``close_fds``, closed once
        the tasks have them."""
        paths = {"stdout": msg["stdout"], "stderr": msg["stderr"]}
        kept = msg.get("kept", ())
        label = bool(msg.get("label"))
        flags = _USER_FILE_FLAGS | (os.O_TRUNC if msg.get("truncate") else 0)
        fds = {}
        for stream in ("stdout", "stderr"):
            if stream in kept:
                fds[stream] = None
            elif stream == "stderr" and paths["stderr"] == paths["stdout"]:
                fds[stream] = fds["stdout"]
            else:
                fds[stream] = _open_user_file(identity, paths[stream], flags)
                close_fds.append(fds[stream])
        if kept or label:
            owner = identity[:2] if identity is not None else None
            user_files = {stream: fd for stream, fd in fds.items() if fd is not None}
            record.output = JobOutput(self.loop, {stream: paths[stream] for stream in kept},
                                      bool(msg.get("truncate")), owner,
                                      lambda note: self._output_lost(record, note),
                                      user_files if label else None, label)
        return fds["stdout"], fds["stderr"]

    def _fail(self, record: AgentJob, note: str, status: int | None = None):
        """End the job on this node: ``status``, the wait status of tasks that could not be
        started, says that the start was tried (the controller records the job as started)."""
        record.failed = True
        about = _about(record, "failed", rank=self.rank, note=note)
        if status is not None:
            about["status"] = status
        self.send(about)
        for task in record.tasks:
            task.signal(signal.SIGKILL)

    def _output_lost(self, record: AgentJob, note: str):
        log.error("node agent %s: job %d: %s", self.name, record.id, note)
        self.send(_about(record, "output-lost", rank=self.rank, note=f"{self.name}: {note}"))

    def _task_exited(self, record: AgentJob, task):
        if record.output is not None:
            record.output.drain()
        record.remaining -= 1
        if task.status > record.status:
            record.status = task.status
        self._maybe_finished(record)

    def _maybe_finished(self, record: AgentJob):
        if record.remaining == 0 and self.jobs.get(record.key) is record:
            del self.jobs[record.key]
            if record.stdin is not None:
                record.stdin.abandon()
            self.send(_about(record, "finished", rank=self.rank, status=record.status,
                             started=record.started_sent))
            if record.step is not None:
                return
            for waiter in self._gone_waiters.pop(record.id, ()):
                if not waiter.done():
                    waiter.set_result(None)

    # --- PrEp node hooks ------------------------------------------------------------------

    def _prolog(self, msg, then=None):
        """Run the job's node prolog; answer ``prolog-done``, then call ``then(status)``."""
        job_id = msg["job"]
        times = []
        task = self.loop.create_task(self._run_hook("prolog", msg, times))
        self.prologs[job_id] = task

        def done(task):
            if self.prologs.get(job_id) is task:
                del self.prologs[job_id]
            cancelled = job_id in self._cancelled_prologs
            self._cancelled_prologs.discard(job_id)
            if task.cancelled():
                status, error = ERROR, "abandoned: it did not stop when its job ended"
            else:
                status, error = task.result()
            if cancelled and status and error is None:
                error = "stopped: its job ended"  # not the node's fault: no drain
            self.send(_hook_answer("prolog-done", job_id, self.rank, status, error, times))
            if then is not None:
                then(status)

        task.add_done_callback(done)

    async def _epilog(self, msg):
        """Run the job's node epilog once its prolog and its tasks here are over."""
        job_id = msg["job"]
        prolog = self.prologs.get(job_id)
        if prolog is not None:
            await asyncio.wait([prolog])
        while job_id in self.jobs:
            waiter = self.loop.create_future()
            self._gone_waiters.setdefault(job_id, []).append(waiter)
            await waiter
        times = []
        status, error = await self._run_hook("epilog", msg, times)
        self.send(_hook_answer("epilog-done", job_id, self.rank, status, error, times))

    async def _run_hook(self, kind: str, msg, times: list) -> tuple[int, str | None]:
        """``(status, error)`` of the node hook ``kind``; ``error`` says why it did not run.
        Each plugin call's time goes into ``times`` (for the controller's metrics)."""
        job_id = msg["job"]
        if self.prep is None or self.key is None:
            return ERROR, f"{self.name} runs no PrEp hooks"
        try:
            job_env = JobEnv.from_dict(msg["job_env"])
            cred = self.key.receive(msg["cred"])
        except (KeyError, TypeError, ValueError) as exc:
            log.error("node agent %s: job %d: malformed %s request: %s", self.name, job_id,
                      kind, exc)
            return ERROR, f"malformed {kind} request"
        if not cred.verify() or cred.job_id != job_id or job_env.job_id != job_id:
            log.error("node agent %s: job %d: %s refused: invalid launch credential",
                      self.name, job_id, kind)
            return ERROR, "invalid launch credential"
        hook = self.prep.prolog if kind == "prolog" else self.prep.epilog
        try:
            status = await _in_thread(self.loop, f"prep-{kind}-{job_id}", hook, job_env, cred,
                                      times)
        except Exception as exc:
            log.exception("node agent %s: job %d: %s", self.name, job_id, kind)
            return ERROR, f"{kind} could not run: {exc}"
        if status:
            log.error("node agent %s: JobId=%d %s failed status=%s", self.name, job_id, kind,
                      _status_text(status))
        return status, None

    # --- kill -----------------------------------------------------------------------------

    def _kill(self, job_id: int, signum: int):
        if signum in (signal.SIGTERM, signal.SIGKILL) and job_id in self.prologs:
            self._cancel_prolog(job_id)
        record = self.jobs.get(job_id)
        if record is None:
            return
        if signum in (signal.SIGTERM, signal.SIGKILL):
            record.stopped = True
        for task in record.tasks:
            task.signal(signum)

    def _kill_step(self, key: tuple, signum: int):
        record = self.jobs.get(key)
        for task in record.tasks if record is not None else ():
            task.signal(signum)

    def _cancel_prolog(self, job_id: int):
        """The job ended while its prolog runs here: give the prolog a few seconds to end,
        then kill its scripts, then stop waiting for it (a Python hook cannot be killed)."""
        if job_id in self._cancelled_prologs:
            return
        self._cancelled_prologs.add(job_id)
        self.loop.call_later(PROLOG_CANCEL_GRACE, self._stop_prolog, job_id,
                             self.prologs[job_id])

    def _stop_prolog(self, job_id: int, task: asyncio.Task):
        if task.done():
            return
        log.error("node agent %s: job %d: the prolog still runs %.0f s after its job ended; "
                  "killing it", self.name, job_id, PROLOG_CANCEL_GRACE)
        if self.prep is not None:
            self.prep.flush_node_job(job_id)
        self.loop.call_later(PROLOG_ABANDON_GRACE, self._abandon_prolog, job_id, task)

    def _abandon_prolog(self, job_id: int, task: asyncio.Task):
        if not task.done():
            log.error("node agent %s: job %d: the prolog did not stop when killed; no longer "
                      "waiting for it", self.name, job_id)
            task.cancel()

    def job_ids(self) -> list[int]:
        """The jobs whose own tasks run here (not their steps)."""
        return sorted(key for key in self.jobs if type(key) is int)

    def step_keys(self) -> list[list[int]]:
        """``[job, step]`` of the job steps whose tasks run here."""
        return sorted(list(key) for key in self.jobs if type(key) is tuple)

    def kill_all(self, signum: int):
        for record in self.jobs.values():
            for task in record.tasks:
                task.signal(signum)


def _key(msg: dict):
    """The `NodeAgent.jobs` key a message is about: its job, or ``(job, step)``."""
    return msg["job"] if "step" not in msg else (msg["job"], msg["step"])


def _key_fields(msg: dict) -> dict:
    return {"job": msg["job"]} if "step" not in msg else {"job": msg["job"], "step": msg["step"]}


def _about(record: AgentJob, kind: str, **fields) -> dict:
    """A message to the controller about ``record``'s job, or its step."""
    message = {"type": kind, "job": record.id, **fields}
    if record.step is not None:
        message["step"] = record.step
    return message


def _write_stderr(record: AgentJob, stderr_fd: int | None, text: str):
    """A line of corral's own for the job's stderr, wherever that goes."""
    output = record.output
    if output is not None and "stderr" in output.streams():
        output.write("stderr", text.encode())
    elif stderr_fd is not None:
        os.write(stderr_fd, text.encode())


def _open_user_file(identity, path: str, flags: int) -> int:
    """An output file the user named, opened with the user's rights and then made blocking
    again for the tasks that share it."""
    try:
        fd = identities.open_as(identity, path, flags, 0o644)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot open {path}: {exc.strerror}") from None
    os.set_blocking(fd, True)
    return fd


def _hook_answer(kind: str, job_id: int, rank: int, status: int, error, times: list) -> dict:
    """``prolog-done`` or ``epilog-done``, with the plugin calls timed when any ran."""
    answer = {"type": kind, "job": job_id, "rank": rank, "status": status, "error": error}
    if times:
        answer["times"] = times
    return answer


def _in_thread(loop, name: str, function, *args) -> asyncio.Future:
    """Run ``function(*args)`` in a thread of its own; a future of its result on ``loop``."""
    future = loop.create_future()

    def settle(value, error):
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def run():
        value, error = None, None
        try:
            value = function(*args)
        except BaseException as exc:  # handed to the loop, never lost in the thread
            error = exc
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:
            pass  # the loop is closed: the controller stopped while the hook ran

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def _status_text(status: int) -> str:
    """A hook status as Slurm logs it: ``exit:signal`` for a wait status, else the number."""
    if status > 0:
        code, signum = exit_and_signal(status)
        return f"{code}:{signum}"
    return str(status)
