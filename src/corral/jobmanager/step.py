"""Job steps: tasks started inside a running job's own allocation (Slurm's ``srun`` in a batch
script or under ``salloc``).

``job-manager.step-create`` (streaming; the job's user or the owner) asks for ``ntasks``
tasks of ``cpus_per_task`` cores (and ``gpus_per_task`` GPUs), optionally on ``nnodes`` nodes
or ``ntasks_per_node`` per node, running ``command`` with ``env`` in ``cwd``.  A step takes
its cores out of the allocation's free ones, so concurrent steps never share a core; one that
does not fit now waits (``{"waiting": reason}``) until an earlier step of the job ends, one
that could never fit is refused at once.  Then ``{"step": N, ...}`` says it started, and
``{"status": wait status}`` that its tasks are gone; the stream ends.  Steps are numbered
from 0 per job.  A step is two events in the job's eventlog, ``step-start`` and
``step-finish``, posted like every other event (jobtap plugins see ``job.event.step-start``);
neither changes the job's state.  ``job-manager.step-list`` lists running steps and
``job-manager.step-kill`` signals one.  A job without steps costs nothing here: its state
exists only from its first step on, and goes when the job's tasks end.
"""

import errno
import logging
import os
import signal
import time

from .. import hostlist, idset, output, resource_set
from ..broker.message import RequestError
from ..broker.roles import ROLE_OWNER
from ..limits import shorten
from ..states import State
from .start import start_request

log = logging.getLogger("corral.job-manager")

#: Why a step waits, in Slurm's words.
BUSY = "Requested nodes are busy"


def place(ranks: dict, used: dict, ntasks: int, cpus: int, gpus: int = 0,
          nnodes: int | None = None, per_node: int | None = None) -> dict | None:
    """``{rank: [{rank: task, cores, gpus}]}`` for a step on the allocation ``ranks``
    (``{rank: (cores, gpus)}``) without the cores and GPUs in ``used`` (``{rank: (set, set)}``);
    None if it does not fit now.  Tasks fill the nodes in rank order (Slurm's block
    distribution); with ``nnodes`` they are spread over that many nodes, first ones first."""
    free = {}
    for rank in sorted(ranks):
        cores, gpu_ids = ranks[rank]
        taken_cores, taken_gpus = used.get(rank, ((), ()))
        free[rank] = ([c for c in cores if c not in taken_cores],
                      [g for g in gpu_ids if g not in taken_gpus])

    def fits(rank):
        cores, gpu_ids = free[rank]
        room = len(cores) // cpus
        return min(room, len(gpu_ids) // gpus) if gpus else room

    counts = {}
    if nnodes is not None or per_node is not None:
        nodes = nnodes or -(-ntasks // per_node)
        base, extra = divmod(ntasks, nodes)
        wanted = [per_node or base + (1 if index < extra else 0) for index in range(nodes)]
        if per_node is not None and nnodes is None:
            wanted[-1] = ntasks - per_node * (nodes - 1)
        for rank in free:
            if len(counts) < nodes and fits(rank) >= wanted[len(counts)] > 0:
                counts[rank] = wanted[len(counts)]
        if len(counts) < nodes:
            return None
    else:
        left = ntasks
        for rank in free:
            take = min(fits(rank), left)
            if take:
                counts[rank] = take
                left -= take
        if left:
            return None
    tasks_by_rank = {}
    task = 0
    for rank, count in counts.items():
        cores, gpu_ids = free[rank]
        tasks_by_rank[rank] = []
        for index in range(count):
            tasks_by_rank[rank].append({
                "rank": task, "cores": cores[index * cpus:(index + 1) * cpus],
                "gpus": gpu_ids[index * gpus:(index + 1) * gpus]})
            task += 1
    return tasks_by_rank


class _Step:
    __slots__ = ("job", "id", "msg", "request", "tasks", "name", "t_start")

    def __init__(self, job, step_id, msg, request):
        self.job = job
        self.id = step_id
        self.msg = msg
        self.request = request
        self.tasks = None  # {rank: tasks} once started
        self.t_start = None
        self.name = request["name"]


def _held(tasks: dict) -> dict:
    """``{rank: [cores, GPUs]}`` (idsets) of a step's tasks, what a controller that takes the
    step back at restart must keep from the next steps."""
    held = {}
    for rank, rank_tasks in tasks.items():
        held[str(rank)] = [idset.encode(core for task in rank_tasks for core in task["cores"]),
                           idset.encode(gpu for task in rank_tasks for gpu in task["gpus"])]
    return held


class _JobSteps:
    """One job's steps: the next number, what its running steps hold, who waits."""

    __slots__ = ("next", "running", "waiting")

    def __init__(self):
        self.next = 0
        self.running: dict[int, _Step] = {}
        self.waiting: list[_Step] = []

    def used(self) -> dict:
        used = {}
        for step in self.running.values():
            for rank, tasks in step.tasks.items():
                cores, gpus = used.setdefault(rank, (set(), set()))
                for task in tasks:
                    cores.update(task["cores"])
                    gpus.update(task["gpus"])
        return used


def _check(request) -> dict:
    """The step request with its defaults, or EPROTO saying which field is wrong."""

    def number(name, default=None):
        value = request.get(name, default)
        if value is not None and (type(value) is not int or value < (0 if name.startswith(
                "gpus") else 1)):
            raise RequestError(errno.EPROTO, f"step-create: '{name}' must be a positive "
                                             "integer")
        return value

    command, env = request.get("command"), request.get("env", {})
    if not isinstance(command, list) or not command or not all(
            isinstance(arg, str) for arg in command):
        raise RequestError(errno.EPROTO, "step-create: 'command' must be a list of strings")
    if not isinstance(env, dict) or not all(isinstance(value, str) for value in env.values()):
        raise RequestError(errno.EPROTO, "step-create: 'env' must map names to strings")
    for name in ("cwd", "name"):
        if request.get(name) is not None and not isinstance(request[name], str):
            raise RequestError(errno.EPROTO, f"step-create: '{name}' must be a string")
    checked = {"ntasks": number("ntasks", 1), "cpus_per_task": number("cpus_per_task", 1),
               "gpus_per_task": number("gpus_per_task", 0), "nnodes": number("nnodes"),
               "ntasks_per_node": number("ntasks_per_node"), "command": command, "env": env,
               "cwd": request.get("cwd") or "/", "name": request.get("name") or
               os.path.basename(command[0]), "label": bool(request.get("label")),
               "stdin": bool(request.get("stdin"))}
    if checked["ntasks_per_node"] and "ntasks" not in request:
        checked["ntasks"] = checked["ntasks_per_node"] * (checked["nnodes"] or 1)
    return checked


class Steps:
    def __init__(self, manager):
        self.manager = manager
        self.jobs: dict[int, _JobSteps] = {}

    def register_services(self, register, roles):
        register("job-manager.step-create", self.serve_create, roles)
        register("job-manager.step-list", self.serve_list, roles)
        register("job-manager.step-kill", self.serve_kill, roles)

    # --- step-create ----------------------------------------------------------------------

    def serve_create(self, msg):
        payload = msg.payload_object()
        job = self.manager.active_job_for(msg, payload.get("id"))
        if not msg.streaming:
            raise RequestError(errno.EPROTO, "step-create is a streaming request")
        request = _check(payload)
        if job.state != State.RUN or not job.started or self.manager.start is None:
            raise RequestError(errno.EINVAL, f"job {job.id} is not running")
        ranks = resource_set.ranks_of(job.R)
        if place(ranks, {}, request["ntasks"], request["cpus_per_task"],
                 request["gpus_per_task"], request["nnodes"],
                 request["ntasks_per_node"]) is None:
            raise RequestError(errno.EINVAL, "More processors requested than permitted")
        steps = self.jobs.get(job.id) or self._first_steps(job)
        step = _Step(job, steps.next, msg, request)
        steps.next += 1
        msg.on_cancel(lambda _msg: self._abandoned(step))
        if not self._try_start(steps, step):
            steps.waiting.append(step)
            msg.respond({"step": step.id, "waiting": BUSY})

    def _first_steps(self, job) -> _JobSteps:
        """The steps of a job that has none here yet: numbered on from those its eventlog
        holds (a controller that took the job back from another goes on counting)."""
        steps = self.jobs[job.id] = _JobSteps()
        started = [event["context"]["step"] for event in self.manager.info.history(job)
                   if event["name"] == "step-start"]
        steps.next = max(started, default=-1) + 1
        return steps

    def reattach(self, job):
        """``job`` was taken back at restart: so are its steps that had started and not
        ended (their tasks outlived the last controller), which then end as any other.
        Their step-create requests went with the last controller: a srun that follows its
        step again reads the end from the eventlog."""
        if not job.events_posted & self.manager.events.names.known_bit("step-start"):
            return  # no step ever started: no eventlog to read (a restart takes back many)
        started, ended = {}, set()
        for event in self.manager.info.history(job):
            if event["name"] == "step-start":
                started[event["context"]["step"]] = event
            elif event["name"] == "step-finish":
                ended.add(event["context"]["step"])
        steps = self.jobs[job.id] = _JobSteps()
        steps.next = max(started) + 1
        for step_id, event in started.items():
            context = event["context"]
            if step_id in ended or "held" not in context:
                continue  # over, or started by a controller that did not record its cores
            step = _Step(job, step_id, None, {"name": context["name"],
                                              "ntasks": context["ntasks"]})
            step.t_start = event["timestamp"]
            step.tasks = {int(rank): [{"cores": idset.decode(cores), "gpus": idset.decode(gpus)}]
                          for rank, (cores, gpus) in context["held"].items()}
            steps.running[step_id] = step
            self.manager.start.exec.reattach_step(start_request(job), step_id,
                                                  sorted(step.tasks))

    def _try_start(self, steps: _JobSteps, step: _Step) -> bool:
        request, job = step.request, step.job
        tasks = place(resource_set.ranks_of(job.R), steps.used(), request["ntasks"],
                      request["cpus_per_task"], request["gpus_per_task"], request["nnodes"],
                      request["ntasks_per_node"])
        if tasks is None:
            return False
        step.tasks = tasks
        step.t_start = time.time()
        steps.running[step.id] = step
        nodelist = self._nodelist(job, tasks)
        task_nodes = [index for index, rank in enumerate(sorted(tasks)) for _ in tasks[rank]]
        env = dict(request["env"], CORRAL_STEP_ID=str(step.id), CORRAL_STEP_NODELIST=nodelist,
                   CORRAL_STEP_TASK_NODES=",".join(map(str, task_nodes)),
                   CORRAL_STEP_LABEL="1" if request["label"] else "0")
        stdout, stderr = output.kept_paths(job.id, self.manager.output_dir, step.id)
        self.manager.events.post(job, "step-start", {
            "step": step.id, "name": step.name, "ntasks": request["ntasks"],
            "ranks": idset.encode(tasks), "nodelist": nodelist,
            "cpus_per_task": request["cpus_per_task"], "command": request["command"],
            "held": _held(tasks)})
        step.msg.respond({"step": step.id, "nodelist": nodelist})
        try:
            self.manager.start.exec.start_step(start_request(job), step.id, tasks, dict(
                request, env=env, stdout=stdout, stderr=stderr, kept=output.KEPT_BOTH))
        except Exception as exc:  # the request's own data could not be sent: it alone fails
            log.exception("job %d: step %d: start failed", job.id, step.id)
            self.finished(job, step.id, 0, shorten(f"start failed: {exc}"))
        return True

    def _nodelist(self, job, tasks) -> str:
        hosts = hostlist.expand(resource_set.nodelist(job.R))
        ordered = sorted(resource_set.ranks_of(job.R))
        return hostlist.compress(hosts[ordered.index(rank)] for rank in sorted(tasks))

    def output_paths(self, job, step_id: int) -> list[tuple[str, str]]:
        """``[(stream, path)]`` of a step's output kept with the job."""
        kept_out, kept_err = output.kept_paths(job.id, self.manager.output_dir, step_id)
        return [("stdout", kept_out), ("stderr", kept_err)]

    def running(self, job_id: int, step_id: int) -> bool:
        steps = self.jobs.get(job_id)
        return steps is not None and (step_id in steps.running or any(
            step.id == step_id for step in steps.waiting))

    def _abandoned(self, step: _Step):
        """srun went away: a waiting step is forgotten, a running one killed."""
        steps = self.jobs.get(step.job.id)
        if steps is None:
            return
        if step in steps.waiting:
            steps.waiting.remove(step)
        elif step.id in steps.running:
            self.manager.start.exec.kill_step(step.job.id, step.id, signal.SIGKILL)

    # --- answers from exec ----------------------------------------------------------------

    def finished(self, job, step_id: int, status: int, note: str | None):
        """A step's tasks are gone: its event, its answer, and its cores to the next."""
        steps = self.jobs.get(job.id)
        step = steps.running.pop(step_id, None) if steps is not None else None
        if step is None:
            return
        context = {"step": step_id, "status": status}
        if note:
            context["note"] = note
        self.manager.events.post(job, "step-finish", context)
        if step.msg is not None:  # None: taken back at restart, its srun gone
            answer = {"step": step_id, "status": status}
            if note:
                answer["note"] = note
            step.msg.respond(answer)
            step.msg.end_stream()
        for waiting in list(steps.waiting):
            if self._try_start(steps, waiting):
                steps.waiting.remove(waiting)

    def job_finished(self, job):
        """The job's tasks are gone (its running steps ended first): steps still waiting
        can never start."""
        steps = self.jobs.pop(job.id, None)
        for step in steps.waiting if steps is not None else ():
            step.msg.respond_error(errno.EINVAL, f"job {job.id} is no longer running")

    # --- step-list, step-kill -------------------------------------------------------------

    def serve_list(self, msg):
        """Running steps: all of them for the owner, else those of the requester's jobs."""
        everyone = bool(msg.rolemask & ROLE_OWNER)
        steps = []
        for job_id, job_steps in self.jobs.items():
            for step in job_steps.running.values():
                job = step.job
                if not everyone and job.userid != msg.userid:
                    continue
                steps.append({"id": job_id, "step": step.id, "name": step.name,
                              "userid": job.userid, "t_start": step.t_start,
                              "nodelist": self._nodelist(job, step.tasks),
                              "ntasks": step.request["ntasks"]})
        msg.respond({"steps": steps})

    def serve_kill(self, msg):
        """``{id, step, signal}``: signal one running step's tasks (scancel ID.STEP)."""
        request = msg.payload_object()
        job = self.manager.active_job_for(msg, request.get("id"))
        step_id, signum = request.get("step"), request.get("signal", signal.SIGKILL)
        if type(step_id) is not int or type(signum) is not int or not 0 < signum < 65:
            raise RequestError(errno.EPROTO, "step-kill needs an integer 'step' and 'signal'")
        steps = self.jobs.get(job.id)
        waiting = next((step for step in steps.waiting if step.id == step_id), None) \
            if steps is not None else None
        if waiting is not None:
            steps.waiting.remove(waiting)
            waiting.msg.respond_error(errno.EINTR, f"step {job.id}.{step_id} cancelled")
        elif not self.manager.start.exec.kill_step(
                job.id, step_id, signum):
            raise RequestError(errno.ENOENT, f"step {job.id}.{step_id} is not running")
        msg.respond({})
