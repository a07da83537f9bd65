"""The controller's exec service: from an allocated job to tasks on node agents, and back.

For each job (a `StartRequest`, never the job manager's record) it splits the tasks over the
allocated ranks and their slots, builds the task environment and output paths, asks each
rank's agent to start its tasks, and turns the agents' answers into the job manager's
``start``, ``finish`` and ``release`` (`ExecAnswers`, by job id).  It owns time
limits (a ``timeout`` exception at expiration) and the kill sequence of a job that must
stop (SIGTERM, then SIGKILL after ``[exec] kill-timeout``).  Jobs with
``attributes.system.exec.test.run_duration`` run for that long without any process, as in
Flux's test execution, so the whole lifecycle can be measured without process costs.

It also carries the PrEp node hooks to the agents (``run_prologs``, ``run_epilogs``, and with
``PrologFlags=NoHold`` a prolog inside each start message) and hands each node's answer to the
caller.  When node epilogs run (``node_epilogs``), a rank goes back to the scheduler only once
its epilog is done, one ``release`` event per answer, and the final ``release`` comes after
the last epilog and after the tasks are gone.  What a hook's status means is not its business.

When the agents are processes of their own (``tasks_outlive``), the jobs a previous
controller started are taken back at restart (`reattach`): their ends arrive as if nothing
had happened, and each agent's ``held`` message, which follows what it had kept for a
controller, says which of them it no longer has (its tasks were lost: the job fails).
"""

import errno
import logging
import signal
import time

from .. import fsd, output
from ..broker.message import RequestError
from ..broker.roles import ROLE_OWNER
from ..timings import CallTimes
from . import stdin
from .requests import ExecAnswers, StartRequest

log = logging.getLogger("corral.exec")


class ExecJob:
    """A job's tasks, or one of its steps' (``step``: its number; see `Exec.start_step`);
    ``job`` is the job's `StartRequest`."""

    __slots__ = ("job", "ranks", "waiting_start", "running", "status", "failed", "cancelled",
                 "started", "simulated", "timers", "expiry", "stdin_rank", "stdin_waiters",
                 "step", "note")

    def __init__(self, job, ranks, step=None):
        self.job = job
        self.step = step
        self.note = None  # why a step failed (the first agent that said so)
        self.ranks = ranks
        self.waiting_start = set()
        self.running = set()
        self.status = 0
        self.failed = False
        self.cancelled = False
        self.started = False
        self.simulated = False
        self.timers = []
        self.expiry = None
        self.stdin_rank = None  # the rank of task 0, when the job reads stdin (`exec.stdin`)
        self.stdin_waiters = []  # stdin requests sent on, answered as the agent writes them


class PrologWait:
    """The node prologs of a job that have not answered yet."""

    __slots__ = ("job_id", "waiting", "on_prolog")

    def __init__(self, job_id, ranks, on_prolog):
        self.job_id = job_id
        self.waiting = set(ranks)
        self.on_prolog = on_prolog


class EpilogWait:
    """A job's node epilogs and its ranks: which may go back to the scheduler, which did."""

    __slots__ = ("job_id", "ranks", "on_epilog", "on_done", "waiting", "requested",
                 "tasks_over", "releasable", "released")

    def __init__(self, job_id, ranks, tasks_over):
        self.job_id = job_id
        self.ranks = set(ranks)
        self.on_epilog = None
        self.on_done = None
        self.waiting = set()
        self.requested = False
        self.tasks_over = tasks_over
        self.releasable = set()
        self.released = set()


class Exec:
    def __init__(self, loop, respond: ExecAnswers, channels, output_dir, uri, key,
                 kill_timeout=5.0, tasks_outlive=False, enforce_time_limits=True):
        """``respond`` gets started/finished/released/exception, and ``node_failed`` for a
        job whose node failed; ``channels[rank]`` reaches that rank's agent; ``key`` signs
        each start request (the agent checks it); ``tasks_outlive``: the agents keep running
        tasks when this controller stops, so that the next one can `reattach` them;
        ``enforce_time_limits``: whether a job still running at its expiration gets a
        ``timeout`` exception (the simulator replays traces whose jobs may outrun their
        requested time)."""
        self.loop = loop
        self.tasks_outlive = tasks_outlive
        #: rank -> ids of jobs (and ``(job, step)`` of steps) taken back at restart whose
        #: tasks there the rank's agent has not yet confirmed it holds.
        self.reattached: dict[int, set[int | tuple[int, int]]] = {}
        self.key = key
        self.respond = respond
        self.channels = channels
        self.output_dir = output_dir
        self.uri = uri
        self.kill_timeout = kill_timeout
        self.enforce_time_limits = enforce_time_limits
        self.jobs: dict[int, ExecJob] = {}
        self.steps: dict[tuple[int, int], ExecJob] = {}  # running job steps, by (job, step)
        self.prologs: dict[int, PrologWait] = {}
        self.epilogs: dict[int, EpilogWait] = {}
        #: Jobs whose start request is on its way (`start_coming`): their tasks will come.
        self.coming: set[int] = set()
        #: Node hook calls as the agents timed them, by plugin and hook (for the metrics).
        self.node_hook_times = CallTimes()
        self.node_epilogs = False
        self.prologs_at_start = None

    def use_node_hooks(self, node_epilogs: bool, prologs_at_start=None):
        """What the PrEp node hooks ask of every job from now on: ``node_epilogs``, whether
        its ranks wait for their node epilogs to go back; ``prologs_at_start`` (with
        ``PrologFlags=NoHold``), ``prologs_at_start(job_id) -> ({rank: request},
        on_prolog)``,
        the node prologs that go out with its tasks (None: none)."""
        self.node_epilogs = node_epilogs
        self.prologs_at_start = prologs_at_start

    # --- requests from the job manager ------------------------------------------------

    def start_coming(self, job_id: int):
        """A start request for the job will follow (`start` or `start_skipped`): node
        epilogs there wait for its tasks."""
        self.coming.add(job_id)

    def start(self, job: StartRequest):
        """Start ``job``'s tasks.  Everything built from the job's own data is built before
        anything is recorded or sent, so a start that raises leaves nothing behind."""
        self.coming.discard(job.id)
        ranks = job.ranks
        system = job.system
        simulated = system.get("exec", {}).get("test", {}).get("run_duration")
        if simulated is not None:
            duration = fsd.parse(simulated)
            record = self.jobs[job.id] = ExecJob(job, ranks)
            self._set_expiry(record)
            self._simulate(record, duration)
            return
        message = self._start_message(job, system, len(ranks))
        tasks_by_rank = self._tasks_by_rank(job, ranks)
        prologs = None
        if self.prologs_at_start is not None:
            prologs, on_prolog = self.prologs_at_start(job.id)
        # Files the user named are emptied by the first rank; files kept with the job exist
        # only if an earlier run of it (a requeued job) printed something.
        truncate = len(message["kept"]) < 2 or job.restart_count > 0
        stdin_rank = _task_0_rank(tasks_by_rank) if stdin.wants_stdin(system) else None
        starts = self._rank_starts(message, tasks_by_rank, truncate, stdin_rank)
        if prologs:
            for start in starts:
                start["prolog"] = prologs[start["rank"]]
        record = self.jobs[job.id] = ExecJob(job, ranks)
        record.stdin_rank = stdin_rank
        record.waiting_start.update(tasks_by_rank)
        record.running.update(tasks_by_rank)
        self._set_expiry(record)
        if prologs:
            self.prologs[job.id] = PrologWait(job.id, prologs, on_prolog)
        for start in starts:
            self.channels[start["rank"]].send(start)
        if prologs:
            for rank in sorted(set(prologs) - set(tasks_by_rank)):
                self.channels[rank].send(dict(prologs[rank], type="prolog", job=job.id))

    def reattach(self, job: StartRequest) -> bool:
        """Take back ``job``, whose tasks a previous controller started: wait for their ends
        (and, if it had not started, for its ``started``) as after its own start.  False for
        a job without processes (simulated), which cannot be taken back."""
        if not self.tasks_outlive or job.system.get("exec", {}).get("test", {}).get(
                "run_duration") is not None:
            return False
        tasks_by_rank = self._tasks_by_rank(job, job.ranks)
        record = self.jobs[job.id] = ExecJob(job, job.ranks)
        record.running.update(tasks_by_rank)
        record.started = job.started
        if not job.started:
            record.waiting_start.update(tasks_by_rank)
        self._set_expiry(record)
        for rank in tasks_by_rank:
            self.reattached.setdefault(rank, set()).add(job.id)
        return True

    def cancel(self, job_id: int):
        """The job must stop (fatal exception): SIGTERM now, SIGKILL after kill-timeout."""
        record = self.jobs.get(job_id)
        if record is None or record.cancelled:
            return
        record.cancelled = True
        if record.simulated:
            for timer in record.timers:
                timer.cancel()
            self.loop.call_soon(self._simulated_end, record, signal.SIGTERM)
            return
        self._signal(record, signal.SIGTERM)
        record.timers.append(
            self.loop.call_later(self.kill_timeout, self._signal, record, signal.SIGKILL)
        )

    def start_skipped(self, job_id: int, ranks):
        """The job (on ``ranks``) left RUN before its start request went out: it will have
        no tasks."""
        self.coming.discard(job_id)
        if self.node_epilogs or job_id in self.epilogs:
            self._tasks_over(job_id, ranks)
        else:
            self.respond.released(job_id, [], True)

    def kill(self, job_id: int, signum: int):
        record = self.jobs.get(job_id)
        if record is not None and not record.simulated:
            self._signal(record, signum)

    def _signal(self, record, signum):
        if self.jobs.get(record.job.id) is not record:
            return
        for rank in record.running:
            self.channels[rank].send({"type": "kill", "job": record.job.id, "signal": signum})
        if self.steps:
            for step in self._steps_of(record.job.id):
                self._signal_step(step, signum)

    # --- simulated execution ------------------------------------------------------------

    def _simulate(self, record, duration):
        record.simulated = True
        record.started = True
        record.running.update(record.ranks)  # so that a failed node ends it, as a real one
        self.respond.started(record.job.id)
        record.timers.append(self.loop.call_later(duration, self._simulated_end, record, 0))

    def _simulated_end(self, record, status):
        if self.jobs.get(record.job.id) is not record:
            return
        record.running.clear()
        self._finish(record, status)

    # --- PrEp node hooks -------------------------------------------------------------------

    def run_prologs(self, job_id: int, requests: dict, on_prolog):
        """Send each rank its node prolog (``requests[rank]``: the hook's ``job_env`` and
        ``cred``); ``on_prolog(job_id, rank, status, error)`` gets each answer."""
        self.prologs[job_id] = PrologWait(job_id, requests, on_prolog)
        for rank in sorted(requests):
            self.channels[rank].send(dict(requests[rank], type="prolog", job=job_id))

    def cancel_prologs(self, job_id: int):
        """The job ended while node prologs run: the agents stop them (each still answers,
        with a status that is not the node's failure)."""
        wait = self.prologs.get(job_id)
        for rank in sorted(wait.waiting if wait is not None else ()):
            self.channels[rank].send({"type": "kill", "job": job_id, "signal": signal.SIGKILL})

    def run_epilogs(self, job_id: int, ranks, requests: dict, on_epilog, on_done=None):
        """Send each rank its node epilog (the agent runs it once the job's prolog and tasks
        there are over); ``ranks``: all the job's; ``on_epilog(job_id, rank, status, error)``
        gets each answer before the rank goes back to the scheduler, ``on_done(job_id)`` is
        called after the final ``release``."""
        wait = self._epilog_wait(job_id, ranks)
        wait.on_epilog = on_epilog
        wait.on_done = on_done
        wait.requested = True
        wait.waiting.update(requests)
        wait.releasable.update(wait.ranks - set(requests) - wait.released)
        for rank in sorted(requests):
            self.channels[rank].send(dict(requests[rank], type="epilog", job=job_id))
        self._release_ready(wait)

    def skip_epilogs(self, job_id: int, ranks):
        """No node epilog will run for the job after all: its ``ranks`` may go back."""
        self.run_epilogs(job_id, ranks, {}, None)

    def _epilog_wait(self, job_id: int, ranks) -> EpilogWait:
        wait = self.epilogs.get(job_id)
        if wait is None:
            # No tasks will come unless a start request is on its way or running.
            tasks_over = job_id not in self.coming and job_id not in self.jobs
            wait = self.epilogs[job_id] = EpilogWait(job_id, ranks, tasks_over)
        return wait

    def _tasks_over(self, job_id: int, ranks):
        wait = self._epilog_wait(job_id, ranks)
        wait.tasks_over = True
        self._release_ready(wait)

    def _release_ready(self, wait: EpilogWait):
        """Release the ranks whose epilog is done; the last release is final."""
        if not wait.requested:
            return
        ranks = sorted(wait.releasable)
        wait.releasable.clear()
        wait.released.update(ranks)
        final = wait.tasks_over and not wait.waiting
        if final:
            del self.epilogs[wait.job_id]
        if ranks or final:
            self.respond.released(wait.job_id, ranks, final)
        if final and wait.on_done is not None:
            try:
                wait.on_done(wait.job_id)
            except Exception:
                log.exception("exec: job %d: error handling the end of its node epilogs",
                              wait.job_id)

    def _count_hook_times(self, times):
        """Add up the node hook calls an agent timed (``[plugin, hook, seconds, failed]``
        each, `prep.driver.call_node_hooks`) for the metrics; a malformed entry is dropped."""
        if not isinstance(times, list):
            return
        for entry in times:
            if (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[0], str)
                    and entry[1] in ("prep_p_prolog", "prep_p_epilog")
                    and type(entry[2]) in (int, float) and isinstance(entry[3], bool)):
                self.node_hook_times.add((entry[0][:256], entry[1]), max(0.0, entry[2]),
                                         entry[3])

    def _hook_done(self, msg: dict):
        kind, job_id, rank = msg["type"], msg["job"], msg["rank"]
        table = self.prologs if kind == "prolog-done" else self.epilogs
        wait = table.get(job_id)
        if wait is None or rank not in wait.waiting:
            log.error("exec: unexpected %s from rank %d for job %s", kind, rank, job_id)
            return
        wait.waiting.discard(rank)
        self._count_hook_times(msg.get("times"))
        status, error = msg["status"], msg.get("error")
        if kind == "prolog-done":
            if not wait.waiting:
                del self.prologs[job_id]
            _answer(wait.on_prolog, job_id, rank, status, error)
            return
        # The caller acts on the answer (drains a failed node) before the rank goes back.
        _answer(wait.on_epilog, job_id, rank, status, error)
        wait.releasable.add(rank)
        self._release_ready(wait)

    # --- messages from agents ---------------------------------------------------------

    # --- standard input (`exec.stdin`) ----------------------------------------------------

    def serve_stdin(self, msg):
        """``job-exec.stdin``: ``{id, data, eof}``, a chunk of task 0's stdin, answered once
        the agent wrote it into the task's pipe (or dropped it: the task no longer reads)."""
        request = msg.payload_object()
        job_id, data, eof = request.get("id"), request.get("data", ""), request.get("eof", False)
        step = request.get("step")
        if type(job_id) is not int or not isinstance(data, str) or type(eof) is not bool \
                or not (step is None or type(step) is int):
            raise RequestError(errno.EPROTO, "stdin needs an integer 'id', base64 'data', "
                                             "a boolean 'eof' and an integer 'step' if any")
        try:
            stdin.decode(data)
        except ValueError:
            raise RequestError(errno.EPROTO, "stdin 'data' must be base64") from None
        record = self.jobs.get(job_id) if step is None else self.steps.get((job_id, step))
        if record is None or record.simulated:
            what = f"job {job_id}" if step is None else f"step {job_id}.{step}"
            raise RequestError(errno.EINVAL, f"{what} is not running")
        if record.job.userid != msg.userid and not msg.rolemask & ROLE_OWNER:
            raise RequestError(errno.EPERM, f"job {job_id} belongs to another user")
        if record.stdin_rank is None:
            raise RequestError(errno.EINVAL, f"job {job_id} does not read stdin from corral "
                                             "run (its stdin is /dev/null)")
        if not record.started and record.step is None:
            # A step has no prolog: its start reaches the agent before any chunk does.
            raise RequestError(errno.EAGAIN, f"job {job_id} has not started yet")
        chunk = {"type": "stdin", "job": job_id, "data": data, "eof": eof}
        if step is not None:
            chunk["step"] = step
        self.channels[record.stdin_rank].send(chunk)
        record.stdin_waiters.append(msg)

    def _stdin_written(self, msg: dict):
        record = self._record(msg)
        if record is not None and record.stdin_waiters:
            record.stdin_waiters.pop(0).respond({})

    def on_message(self, msg: dict):
        kind = msg["type"]
        if kind in ("prolog-done", "epilog-done"):
            self._hook_done(msg)
            return
        if kind == "stdin-written":
            self._stdin_written(msg)
            return
        if kind == "held":
            self._held(msg)
            return
        if "step" in msg:
            self._step_message(msg)
            return
        record = self.jobs.get(msg["job"])
        if record is None:
            log.error("exec: message for unknown job %s: %s", msg["job"], msg["type"])
            return
        rank = msg["rank"]
        if kind == "started":
            record.waiting_start.discard(rank)
            if not record.waiting_start and not record.failed and not record.started:
                record.started = True
                self.respond.started(record.job.id)
        elif kind == "failed":
            if not record.failed:
                record.failed = True
                if "status" in msg and not record.started:
                    # A task could not be started: the job ran, with its exit code (Flux).
                    record.started = True
                    self.respond.started(record.job.id)
                self.respond.exception(record.job.id, "exec", msg["note"])
                self._signal(record, signal.SIGKILL)
        elif kind == "output-lost":
            # Output that cannot be kept ends the job: it must not report COMPLETED without it.
            if not record.failed:
                record.failed = True
                self.respond.exception(record.job.id, "output", msg["note"])
        elif kind == "finished":
            if rank not in record.running:
                # A node that came back after it failed, ending an earlier run of the job.
                log.info("exec: job %d: ignored the end of an earlier run on rank %d",
                         record.job.id, rank)
                return
            record.running.remove(rank)
            if msg["status"] > record.status:
                record.status = msg["status"]
            if not record.running:
                self._finish(record, record.status)
        else:
            log.error("exec: unknown message type %r", kind)

    def _held(self, msg: dict):
        """An agent that a new controller welcomed holds the tasks of ``msg["jobs"]`` and of
        the job steps ``msg["steps"]``: the jobs and steps taken back on its rank that it
        lacks lost their tasks there (``msg["note"]`` says how), and tasks of jobs and steps
        this controller does not run there are killed."""
        rank, jobs, steps = msg["rank"], msg.get("jobs"), msg.get("steps", [])
        if not isinstance(jobs, list) or not all(_is_id(job) for job in jobs) or not (
                isinstance(steps, list) and all(isinstance(step, list) and len(step) == 2
                                                and all(map(_is_id, step)) for step in steps)):
            log.error("exec: dropped a held message from rank %d whose jobs are not a list "
                      "of job ids or whose steps are not [job, step] pairs", rank)
            return
        held = set(jobs) | {tuple(step) for step in steps}
        taken_back = self.reattached.pop(rank, set())
        lost = taken_back - held
        steps_back = {key for key in taken_back if isinstance(key, tuple)}
        for what, back in (("jobs", taken_back - steps_back), ("steps", steps_back)):
            if back:
                log.info("exec: rank %d holds %d of the %d %s taken back there", rank,
                         len(back - lost), len(back), what)
        for key in sorted(lost, key=_held_order):
            if isinstance(key, tuple):
                self._step_rank_lost(self.steps.get(key), rank, msg["note"])
                continue
            record = self.jobs.get(key)
            if record is not None and rank in record.running:
                self._rank_lost(record, rank, msg["note"])
        for key in sorted(held, key=_held_order):
            record = self.steps.get(key) if isinstance(key, tuple) else self.jobs.get(key)
            if record is None or rank not in record.running:
                kill = {"type": "kill", "job": key, "signal": signal.SIGKILL}
                if isinstance(key, tuple):
                    kill.update(job=key[0], step=key[1])
                self.channels[rank].send(kill)

    def _step_rank_lost(self, record, rank: int, note: str):
        """A step taken back lost its tasks on ``rank`` while no controller watched."""
        if record is None or rank not in record.running:
            return
        record.running.discard(rank)
        record.status = max(record.status, signal.SIGKILL)
        record.note = record.note or note
        if not record.running:
            self._step_over(record)

    def node_failed(self, rank: int, note: str):
        """Rank ``rank``'s node is gone with its tasks: every job with tasks there is ended
        by the job manager (``note`` names host and rank) and its tasks there count as
        ended; node hooks there that never answered count as failed."""
        self.reattached.pop(rank, None)
        for record in list(self.jobs.values()):
            if rank in record.running:
                self._rank_lost(record, rank, note)
        for kind, table in (("prolog-done", self.prologs), ("epilog-done", self.epilogs)):
            for job_id, wait in list(table.items()):
                if rank in wait.waiting:
                    self._hook_done({"type": kind, "job": job_id, "rank": rank,
                                     "status": 1, "error": note})

    def job_ids_on(self, rank: int) -> list[int]:
        """The jobs with tasks running on ``rank``, as far as this controller knows."""
        return [job_id for job_id, record in self.jobs.items() if rank in record.running]

    def _rank_lost(self, record: ExecJob, rank: int, note: str):
        """The job's tasks on ``rank`` are gone: they count as ended, and the job fails."""
        record.waiting_start.discard(rank)
        record.running.discard(rank)
        if not record.failed:
            record.failed = True
            self.respond.node_failed(record.job.id, note)
        if not record.running and self.jobs.get(record.job.id) is record:
            self._finish(record, record.status)

    def _finish(self, record, status):
        del self.jobs[record.job.id]
        if self.steps:
            self._end_steps(record.job)
        for waiter in record.stdin_waiters:  # the tasks are gone: nothing more is read
            waiter.respond({})
        for timer in record.timers:
            timer.cancel()
        if record.expiry is not None:
            record.expiry.cancel()
        job_id = record.job.id
        if record.started:
            self.respond.finished(job_id, status)
        if self.node_epilogs or job_id in self.epilogs:
            self._tasks_over(job_id, record.ranks)
        else:
            self.respond.released(job_id, sorted(record.ranks), True)

    def update_expiration(self, job_id: int, expiration: float):
        """The job's R has a new ``expiration`` (a running job's duration was updated)."""
        record = self.jobs.get(job_id)
        if record is not None and not record.cancelled:
            record.job.expiration = expiration
            self._set_expiry(record)

    def _set_expiry(self, record):
        if record.expiry is not None:
            record.expiry.cancel()
            record.expiry = None
        expiration = record.job.expiration
        if expiration and self.enforce_time_limits:
            delay = max(expiration - time.time(), 0)
            record.expiry = self.loop.call_later(delay, self._expired, record)

    def _expired(self, record):
        if self.jobs.get(record.job.id) is record and not record.cancelled:
            self.respond.exception(record.job.id, "timeout", "resource allocation expired")

    # --- job steps (``srun`` inside an allocation) ------------------------------------------

    def start_step(self, job: StartRequest, step: int, tasks_by_rank: dict, request: dict):
        """Start step ``step`` of the running ``job``: ``tasks_by_rank`` as `_tasks_by_rank`
        gives them, placed by the job manager on the allocation's free cores; ``request``
        holds the step's ``command``, ``env``, ``cwd``, output paths (``stdout``, ``stderr``,
        ``kept``) and ``stdin``.  The agents keep a step's tasks apart from the
        job's; its end comes back as ``respond.step_finished``."""
        message = self._start_message(job, job.system, len(tasks_by_rank))
        job_vars = {name: value for name, value in {**message["env"], **message["job_vars"]}
                    .items() if name.startswith("CORRAL_")}
        message.update(step=step, command=list(request["command"]), env=dict(request["env"]),
                       job_vars=job_vars,
                       cwd=request["cwd"], stdout=request["stdout"], stderr=request["stderr"],
                       kept=list(request["kept"]))
        message.pop("label", None)  # a step's tasks label their own lines
        record = ExecJob(job, sorted(tasks_by_rank), step)
        if request.get("stdin"):
            record.stdin_rank = _task_0_rank(tasks_by_rank)
        starts = self._rank_starts(message, tasks_by_rank, True, record.stdin_rank)
        record.waiting_start.update(tasks_by_rank)
        record.running.update(tasks_by_rank)
        self.steps[job.id, step] = record
        for start in starts:
            self.channels[start["rank"]].send(start)

    def reattach_step(self, job: StartRequest, step: int, ranks: list[int]):
        """Take back step ``step`` of ``job`` (itself taken back), which runs on ``ranks``: its
        end comes back as ``respond.step_finished``, as after `start_step`."""
        record = self.steps[job.id, step] = ExecJob(job, ranks, step)
        record.running.update(ranks)
        record.started = True
        for rank in ranks:
            self.reattached.setdefault(rank, set()).add((job.id, step))

    def kill_step(self, job_id: int, step: int, signum: int) -> bool:
        """Signal the tasks of a running step; False if it is not running."""
        record = self.steps.get((job_id, step))
        if record is None:
            return False
        self._signal_step(record, signum)
        return True

    def _signal_step(self, record, signum):
        for rank in record.running:
            self.channels[rank].send({"type": "kill", "job": record.job.id, "step": record.step,
                                      "signal": signum})

    def _steps_of(self, job_id: int) -> list:
        return [record for (job, _step), record in self.steps.items() if job == job_id]

    def _record(self, msg: dict):
        """The job or step an agent's message is about (None if it is over)."""
        if "step" in msg:
            return self.steps.get((msg["job"], msg["step"]))
        return self.jobs.get(msg["job"])

    def _step_message(self, msg: dict):
        record = self._record(msg)
        kind, rank = msg["type"], msg["rank"]
        if record is None:
            log.info("exec: ignored %s for step %s.%s, which is over", kind, msg["job"],
                     msg["step"])
            return
        if kind == "started":
            record.waiting_start.discard(rank)
            record.started = not record.waiting_start and not record.failed
        elif kind in ("failed", "output-lost"):
            if not record.failed:
                record.failed = True
                record.note = msg["note"]
                if kind == "failed":
                    self._signal_step(record, signal.SIGKILL)
        elif kind == "finished" and rank in record.running:
            record.running.remove(rank)
            record.status = max(record.status, msg["status"])
            if not record.running:
                self._step_over(record)

    def _step_over(self, record):
        del self.steps[record.job.id, record.step]
        for waiter in record.stdin_waiters:
            waiter.respond({})
        self.respond.step_finished(record.job.id, record.step, record.status, record.note)

    def _end_steps(self, job):
        """The job's own tasks are gone: its steps end with it, as in Slurm (killed, and
        over from now on: their agents' last words are ignored)."""
        for record in self._steps_of(job.id):
            self._signal_step(record, signal.SIGKILL)
            record.running.clear()
            record.status = max(record.status, signal.SIGKILL)
            self._step_over(record)

    # --- building start requests ------------------------------------------------------

    def _rank_starts(self, message, tasks_by_rank, truncate, stdin_rank) -> list[dict]:
        """One signed start request per rank; the first empties the files the user named."""
        starts = []
        for rank, tasks in tasks_by_rank.items():
            start = dict(message, rank=rank, tasks=tasks, truncate=truncate)
            if rank == stdin_rank:
                start["stdin"] = True
            start["token"] = self.key.launch_token(start)
            starts.append(start)
            truncate = False
        return starts

    def _start_message(self, job, system, nnodes) -> dict:
        """A rank's start request but for its rank and tasks.  The tasks' environment is
        ``env``, the job's (most often its submitter's, the same for many jobs: a transport
        sends it once, `transport.shared`), with ``job_vars`` over it, what corral sets."""
        env = dict(job.environment or {})
        if None in env.values():  # a null value unsets the variable (RFC 14)
            env = {name: value for name, value in env.items() if value is not None}
        job_vars = {
            "CORRAL_JOB_ID": str(job.id),
            "CORRAL_JOB_SIZE": str(job.ntasks),
            "CORRAL_JOB_NNODES": str(nnodes),
            "CORRAL_JOB_NODELIST": job.nodelist,
            "CORRAL_URI": self.uri,
        }
        stdout, stderr, kept = output.paths(job.id, job.name, job.userid, system,
                                            self.output_dir)
        message = {
            "type": "start",
            "job": job.id,
            "userid": job.userid,
            "command": list(job.request.command),
            "env": env,
            "job_vars": job_vars,
            "cwd": output.work_dir(system, job.userid),
            "stdout": stdout,
            "stderr": stderr,
            "kept": list(kept),
        }
        if output.labelled(system):
            message["label"] = True
        return message

    def _tasks_by_rank(self, job, ranks) -> dict:
        """Split the job's tasks over ranks and slots: ``{rank: [{rank, cores, gpus}]}``.

        Tasks go to slots in rank order and share their slot's cores; ``per-resource``
        shell options give each node (or core) its own count, as Flux's shell does.
        """
        request = job.request
        cores_per_slot = request.cores_per_slot
        places = []  # (rank, cores, gpus, task count) in rank order
        if request.per_resource is not None:
            kind, per = request.per_resource
            for rank in sorted(ranks):
                cores, gpus = ranks[rank]
                if kind == "node":
                    places.append((rank, cores, gpus, per))
                else:
                    places.extend((rank, [core], gpus, per) for core in cores)
        else:
            for rank in sorted(ranks):
                cores, gpus = ranks[rank]
                if request.nnodes:
                    nslots = request.slots_per_node
                else:
                    nslots = max(len(cores) // cores_per_slot, 1)
                # An exclusive node holds more cores than its slots ask for: share them out.
                core_share = max(len(cores) // nslots, 1)
                gpu_share = len(gpus) // nslots
                for index in range(nslots):
                    places.append((
                        rank,
                        cores[index * core_share:(index + 1) * core_share] or cores,
                        gpus[index * gpu_share:(index + 1) * gpu_share],
                        0,
                    ))
            count = job.task_count
            if "per_slot" in count:
                places = [(r, c, g, count["per_slot"]) for r, c, g, _ in places]
            else:
                base, extra = divmod(count["total"], len(places))
                places = [(r, c, g, base + (1 if index < extra else 0))
                          for index, (r, c, g, _) in enumerate(places)]
        by_rank: dict[int, list] = {}
        task_rank = 0
        for rank, cores, gpus, ntasks in places:
            for _ in range(ntasks):
                by_rank.setdefault(rank, []).append(
                    {"rank": task_rank, "cores": cores, "gpus": gpus}
                )
                task_rank += 1
        return by_rank


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _held_order(key) -> tuple:
    """Jobs and ``(job, step)`` keys in one order: by job, its steps before its own tasks,
    whose end ends the steps still running (the steps lost first keep the note saying how)."""
    return (key, 1, 0) if isinstance(key, int) else (key[0], 0, key[1])


def _task_0_rank(tasks_by_rank: dict) -> int:
    """The rank where task 0 runs (it reads the stdin forwarded by the client)."""
    return next(rank for rank, tasks in tasks_by_rank.items()
                if any(task["rank"] == 0 for task in tasks))


def _answer(callback, job_id, rank, status, error):
    """Hand a node hook's answer on; a failing receiver must not cost the node its release."""
    try:
        callback(job_id, rank, status, error)
    except Exception:
        log.exception("exec: job %d: error handling a node hook answer from rank %d", job_id,
                      rank)
