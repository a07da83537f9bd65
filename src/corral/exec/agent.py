"""The node agent: runs a job's tasks on one node and reports back by message.

It receives ``start`` (the tasks of one rank, with their cores, command, environment and
output paths) and ``kill`` (a signal for every task of a job), and sends ``started``,
``failed`` (a task could not start; the others are killed) and ``finished`` (every task has
exited; the greatest wait status).  It never touches the job manager: everything goes
through ``send``, so the same agent can sit behind a network transport.
"""

import errno
import logging
import os
import signal

from . import launch, orphans

log = logging.getLogger("corral.agent")

_SHELL_REDIRECT = 'exec >>"$1" 2>>"$2"; shift 2; exec "$@"'
_SHELL_REDIRECT_MERGED = 'exec >>"$1" 2>&1; shift 2; exec "$@"'


class AgentJob:
    __slots__ = ("id", "tasks", "remaining", "status", "failed", "started_sent")

    def __init__(self, job_id):
        self.id = job_id
        self.tasks = []
        self.remaining = 0
        self.status = 0
        self.failed = False
        self.started_sent = False


class NodeAgent:
    def __init__(self, loop, rank: int, name: str, send):
        self.loop = loop
        self.rank = rank
        self.name = name
        self.send = send
        self.jobs: dict[int, AgentJob] = {}
        self._uid = os.geteuid()

    def handle(self, msg: dict):
        kind = msg["type"]
        if kind == "start":
            self._start(msg)
        elif kind == "kill":
            self._kill(msg["job"], msg["signal"])
        else:
            log.error("node agent %s: unknown message type %r", self.name, kind)

    def running_jobs(self) -> list[int]:
        return list(self.jobs)

    # --- start ----------------------------------------------------------------------------

    def _start(self, msg):
        job_id = msg["job"]
        record = AgentJob(job_id)
        self.jobs[job_id] = record
        try:
            identity = self._identity(msg["userid"])
            argv, stdout_fd, stderr_fd, close_fds = self._output(msg, identity)
        except OSError as exc:
            self._fail(record, f"{self.name}: cannot start job: {exc.strerror or exc}")
            self._maybe_finished(record)
            return
        env = msg["env"]
        cwd = msg["cwd"]
        try:
            for task in msg["tasks"]:
                task_env = dict(env)
                task_env["CORRAL_TASK_RANK"] = str(task["rank"])
                if task["gpus"]:
                    task_env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, task["gpus"]))
                try:
                    process = launch.spawn(
                        self.loop, task["rank"], argv, task_env, cwd,
                        launch.usable_cpus(task["cores"]), stdout_fd, stderr_fd,
                        lambda t, r=record: self._task_exited(r, t), identity,
                    )
                except OSError as exc:
                    reason = exc.strerror or str(exc)
                    if exc.errno == errno.ENOENT and exc.filename == cwd:
                        reason = f"cannot chdir to {cwd}: {reason}"
                    else:
                        reason = f"{msg['command'][0]}: {reason}"
                    self._fail(record, f"task {task['rank']} ({self.name}): start failed: "
                                       f"{reason}")
                    if stderr_fd is not None:
                        os.write(stderr_fd, f"corral: task {task['rank']} ({self.name}): "
                                            f"start failed: {reason}\n".encode())
                    break
                record.tasks.append(process)
                record.remaining += 1
        finally:
            for fd in close_fds:
                os.close(fd)
        if not record.failed:
            record.started_sent = True
            pids = [[task.pid, orphans.start_time(task.pid)] for task in record.tasks]
            self.send({"type": "started", "job": job_id, "rank": self.rank, "pids": pids})
        self._maybe_finished(record)

    def _identity(self, userid: int):
        if userid == self._uid:
            return None
        if self._uid != 0:
            raise OSError(errno.EPERM, f"cannot run a job as uid {userid}: the controller "
                                       "does not run as root")
        import pwd

        entry = pwd.getpwuid(userid)
        return (userid, entry.pw_gid, os.getgrouplist(entry.pw_name, entry.pw_gid))

    def _output(self, msg, identity):
        """Open (or arrange for the task to open) stdout and stderr."""
        stdout, stderr = msg["stdout"], msg["stderr"]
        argv = msg["command"]
        if identity is not None and msg.get("user_paths"):
            # Files the user named are opened by the task itself, with the user's rights.
            script = _SHELL_REDIRECT_MERGED if stdout == stderr else _SHELL_REDIRECT
            return ["/bin/sh", "-c", script, "sh", stdout, stderr, *argv], None, None, ()
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        if msg.get("truncate"):
            flags |= os.O_TRUNC
        stdout_fd = os.open(stdout, flags, 0o644)
        if stderr == stdout:
            return argv, stdout_fd, stdout_fd, (stdout_fd,)
        try:
            stderr_fd = os.open(stderr, flags, 0o644)
        except OSError:
            os.close(stdout_fd)
            raise
        return argv, stdout_fd, stderr_fd, (stdout_fd, stderr_fd)

    def _fail(self, record: AgentJob, note: str):
        record.failed = True
        self.send({"type": "failed", "job": record.id, "rank": self.rank, "note": note})
        for task in record.tasks:
            task.signal(signal.SIGKILL)

    def _task_exited(self, record: AgentJob, task):
        record.remaining -= 1
        if task.status > record.status:
            record.status = task.status
        self._maybe_finished(record)

    def _maybe_finished(self, record: AgentJob):
        if record.remaining == 0 and self.jobs.get(record.id) is record:
            del self.jobs[record.id]
            self.send({
                "type": "finished",
                "job": record.id,
                "rank": self.rank,
                "status": record.status,
                "started": record.started_sent,
            })

    # --- kill -----------------------------------------------------------------------------

    def _kill(self, job_id: int, signum: int):
        record = self.jobs.get(job_id)
        if record is None:
            return
        for task in record.tasks:
            task.signal(signum)

    def kill_all(self, signum: int):
        for record in self.jobs.values():
            for task in record.tasks:
                task.signal(signum)
