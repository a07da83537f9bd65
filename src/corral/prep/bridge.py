"""The controller's side of PrEp: each job's hooks, and what their results do to it.

The ``.prep`` builtin jobtap plugin (``jobmanager/plugins/prep_bridge.py``) calls this object
from a job's state callbacks; the object reads jobs (`JobView`), posts their events and
requeues them through the plugin's handle, sends node hooks to the agents through exec and
drains nodes through the resource service: it never sees the job manager itself.  Slurm's
rules (``spec/prep.md``, driver rules 3-8) are here and nowhere else:

* In RUN, between ``prolog-start`` and ``prolog-finish``: the controller prolog (when a plugin
  requires it), then the node prologs on every allocated node; the tasks start only when all
  of them succeeded. A controller prolog that fails requeues the job (not held) or, when it
  cannot be requeued, kills it (``PrologSlurmctld failed, job killed``); nothing is drained. A
  node prolog that fails drains that node (``Prolog error``) and requeues the job held
  (``launch failed requeued held``; ``launch failure limit exceeded requeued held`` after
  ``max-batch-requeue`` launch failures) or kills it (``Prolog failure on node X``).
* When the job leaves RUN, between ``epilog-start`` and ``epilog-finish``: the controller
  epilog and the node epilogs start together; a node epilog that fails drains its node
  (``Epilog error``) and leaves a non-fatal ``epilog`` exception; a failing controller epilog
  is only logged. Exec releases each node when its epilog is done.
* ``epilog-start`` comes before ``prolog-finish`` when a prolog failed or the job was
  cancelled during it (Flux's perilog rule), so the job cannot end in between. A cancelled
  job's controller prolog scripts are killed (not a failure); its node prologs may end, as in
  Slurm, but the agents kill them after a few seconds (nothing is drained), so one that hangs
  without a timeout cannot hold the nodes for ever.
* A requeued job is not eligible for ``requeue-delay`` seconds: its priority is unavailable
  until then (``job.state.priority``, ``job.priority.get``).
* At restart, a job whose prolog the last controller left open is requeued (its tasks never
  started) and its prolog closed; epilogs left open are run again from the start.

Asynchronous controller hooks report through `Callbacks`, which the controller's ``deliver``
hands to the event loop; `on_callback` is where they land.
"""

import logging
import time
from dataclasses import replace

from ..states import State
from . import jobinfo
from .constants import CallType
from .cred import Cred
from .environment import gpu_env
from .pending import PendingUnits
from .records import JobEnv, JobRecord
from .script import ScriptPlugin

log = logging.getLogger("corral.prep")

#: The description of the prolog and epilog actions in the eventlog.
DESCRIPTION = "prep"

LAUNCH_FAILED_HELD = "launch failed requeued held"
LAUNCH_FAILED = "launch failed requeued"
LAUNCH_LIMIT_HELD = "launch failure limit exceeded requeued held"
CTLD_PROLOG_FAILED = "PrologSlurmctld failed"
CTLD_PROLOG_KILLED = "PrologSlurmctld failed, job killed"
CTLD_PROLOG_REQUEUED = "PrologSlurmctld failed, job requeued"
RESTARTED_IN_PROLOG = "the controller stopped during the job's prolog"
PROLOG_DRAIN_REASON = "Prolog error"
EPILOG_DRAIN_REASON = "Epilog error"


class JobHooks:
    """Where one run of a job stands with its hooks (Slurm's prep_prolog_cnt, prolog_running,
    epilog_running and friends)."""

    __slots__ = ("job_id", "prolog_open", "ctld_prolog", "node_prologs", "prolog_status",
                 "failed", "ending", "epilog_open", "ctld_epilog", "node_epilogs",
                 "epilog_status", "orphaned_prolog", "ctld_prolog_started")

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.prolog_open = False  # prolog-start posted, prolog-finish not yet
        self.ctld_prolog = False  # asynchronous controller prolog units outstanding
        self.node_prologs = set()  # ranks whose node prolog has not answered
        self.prolog_status = 0
        self.failed = False  # a prolog failure already decided the job's fate
        self.ending = False  # the job left RUN
        self.epilog_open = False
        self.ctld_epilog = False
        self.node_epilogs = False  # node epilogs running, or their ranks not all released
        self.epilog_status = 0
        self.orphaned_prolog = False  # left open by the previous controller
        self.ctld_prolog_started = 0.0


class PrepBridge:
    """The PrEp hooks of every job on the controller."""

    def __init__(self, settings, host, key, output_dir, exec_service, resources):
        self.settings = settings
        self.host = host
        self.key = key
        self.output_dir = output_dir
        self.exec = exec_service
        self.resources = resources
        self.p = None  # the .prep plugin handle, once loaded
        self.closed = False
        self.runs: dict[int, JobHooks] = {}
        self.prolog_units = PendingUnits(CallType.PROLOG_SLURMCTLD)
        self.epilog_units = PendingUnits(CallType.EPILOG_SLURMCTLD)
        self.nohold = "NoHold" in settings.flags
        self.ctld_prolog = host.required(CallType.PROLOG_SLURMCTLD)
        self.node_prolog = self._any_hook(settings.prolog)
        self.node_epilog = self._any_hook(settings.epilog)
        self.ctld_epilog = self._any_hook(settings.epilog_slurmctld)
        self._delayed: dict[int, float] = {}  # job id -> when its requeue delay ends
        self._delay_timer = None
        self._delay_deadline = None
        self._restart_work = []
        self._reprioritize_after_restart = False

    def _any_hook(self, scripts) -> bool:
        """Whether a hook can do anything: any plugin but prep/script may; prep/script only
        with scripts of that kind configured (Slurm's plugin returns at once without)."""
        for plugin in self.host.plugins:
            if not isinstance(plugin.target, ScriptPlugin) or scripts:
                return True
        return False

    @property
    def runs_hooks(self) -> bool:
        """Whether jobs run any hook here (the plugin watches RUN and CLEANUP only then)."""
        return self.ctld_prolog or self.node_prolog or self.node_epilog or self.ctld_epilog

    # --- lifecycle ------------------------------------------------------------------------

    def attach(self, p):
        """The ``.prep`` plugin is loaded: events are posted through ``p``, and exec learns
        which node hooks jobs run."""
        self.p = p
        at_start = self._prologs_at_start if self.nohold and self.node_prolog else None
        self.exec.use_node_hooks(self.node_epilog, at_start)

    def detach(self):
        """The ``.prep`` plugin was removed: jobs that reach RUN from now on run no hook.
        Hooks already running finish as they would have; jobs waiting out a requeue delay
        are given their priority."""
        self.exec.use_node_hooks(False)
        if self._delay_timer is not None:
            self._delay_timer.stop()
            self._delay_timer = None
        if self._delayed and not self.closed:
            self._delayed.clear()
            self.p.reprioritize_all()

    def close(self):
        """The controller is stopping: nothing more is posted or started."""
        self.closed = True
        if self._delay_timer is not None:
            self._delay_timer.stop()
            self._delay_timer = None

    def describe(self) -> dict:
        """What ``corral prep list`` shows."""
        return {
            "plugins": self.host.describe(),
            "required": {call_type.name: self.host.required(call_type)
                         for call_type in CallType},
            "flags": sorted(self.settings.flags),
        }

    # --- RUN: prologs ---------------------------------------------------------------------

    def job_run(self, job_id: int):
        """``job.state.run``: start the job's prologs, holding its tasks until they are done."""
        if self.closed:
            return
        job = self.p.job_view(job_id)
        run = self.runs[job_id] = JobHooks(job_id)
        node = self.node_prolog and not self.nohold
        if not self.ctld_prolog and not node:
            return
        self.p.prolog_start(DESCRIPTION)
        run.prolog_open = True
        try:
            if self.ctld_prolog:
                result = self.host.prolog_slurmctld(JobRecord.from_job(job, self.output_dir))
                # A synchronous failure only stops the chain, as in Slurm; callbacks decide.
                if self.prolog_units.start(job_id, result.pending):
                    run.ctld_prolog = True
                    run.ctld_prolog_started = time.time()
                    return
            self._start_node_prologs(job, run)
        except Exception as exc:
            # A bug here must not leave the job waiting for a prolog that never ends.
            log.exception("prep: JobId=%d: the prologs could not start", job_id)
            self.prolog_units.discard(job_id)
            run.ctld_prolog = False
            run.node_prologs.clear()
            run.failed = True
            run.prolog_status = run.prolog_status or 1
            self.p.raise_exception(job_id, "prolog", 0, f"prolog could not start: {exc}")
            self._close_prolog(run)

    def _start_node_prologs(self, job, run: JobHooks):
        if run.ending or self.nohold or not self.node_prolog:
            self._close_prolog(run)
            return
        requests = self._node_requests(job)
        run.node_prologs.update(requests)
        self.exec.run_prologs(job.id, requests, self._node_prolog_done)

    def _prologs_at_start(self, job_id: int):
        """NoHold: the node prologs go out with the tasks (``Exec.prologs_at_start``)."""
        if self.closed:
            return None, None
        return self._node_requests(self.p.job_view(job_id)), self._node_prolog_done

    def _node_prolog_done(self, job_id: int, rank: int, status: int, error: str | None):
        run = self.runs.get(job_id)
        if status:
            job = self._view(job_id)
            node = _node_name(job, rank)
            if error is None:
                log.error("prep: JobId=%d: Prolog failure on node %s, draining the node",
                          job_id, node)
                self.resources.drain([rank], PROLOG_DRAIN_REASON, update_reason=False)
            else:
                log.error("prep: JobId=%d: prolog on node %s did not complete: %s", job_id, node,
                          error)
            if run is not None and not run.prolog_status:
                run.prolog_status = status
            if run is not None and job is not None and not run.failed and not run.ending \
                    and not self.closed:
                self._launch_failed(job, run, node)
        if run is not None and rank in run.node_prologs:
            run.node_prologs.discard(rank)
            if not run.node_prologs and not run.ctld_prolog:
                self._close_prolog(run)

    def _launch_failed(self, job, run: JobHooks, node: str):
        """A node prolog failed: requeue the job held, or kill it (Slurm's
        _launch_job_fail and _job_requeue_op)."""
        run.failed = True
        note = f"Prolog failure on node {node}"
        settings = self.settings
        if job.request.requeue or "ForceRequeueOnFail" in settings.flags:
            failures = job.launch_failures + 1
            if failures >= settings.max_batch_requeue:
                reason, hold, failures = LAUNCH_LIMIT_HELD, True, 0
            elif settings.nohold_on_prolog_fail:
                reason, hold = LAUNCH_FAILED, False
            else:
                reason, hold = LAUNCH_FAILED_HELD, True
            self.p.job_requeue(job.id, reason, hold=hold, delay=settings.requeue_delay,
                               launch_failures=failures)
        self.p.raise_exception(job.id, "prolog", 0, note)

    def _ctld_prolog_over(self, job, run: JobHooks, failed: bool):
        run.ctld_prolog = False
        if failed and not run.ending and not run.failed:
            run.failed = True
            run.prolog_status = run.prolog_status or 1
            if job.request.requeue:
                self.p.job_requeue(job.id, CTLD_PROLOG_FAILED,
                                   delay=self.settings.requeue_delay)
                self.p.raise_exception(job.id, "prolog", 0, CTLD_PROLOG_REQUEUED)
            else:
                log.info("prep: unable to requeue JobId=%d: it may not be requeued", job.id)
                self.p.raise_exception(job.id, "prolog", 0, CTLD_PROLOG_KILLED)
        if run.failed or run.ending:
            if not run.node_prologs:
                self._close_prolog(run)
            return
        self._extend_time_limit(job, run)
        self._start_node_prologs(job, run)

    def _extend_time_limit(self, job, run: JobHooks):
        """The time the controller prolog took does not count against the job's time limit
        (Slurm restarts the clock when CONFIGURING ends), in whole seconds."""
        expiration = job.R["execution"].get("expiration") or 0
        seconds = int(time.time() - run.ctld_prolog_started)
        if expiration and seconds > 0:
            log.info("prep: Extending JobId=%d time limit by %d secs for configuration",
                     job.id, seconds)
            self.p.event_post(job.id, "resource-update", {"expiration": expiration + seconds})

    def _close_prolog(self, run: JobHooks):
        """Post ``prolog-finish`` (once) and forget the run if nothing else is open."""
        if run.prolog_open:
            run.prolog_open = False
            if not self.closed:
                self.p.prolog_finish(run.job_id, DESCRIPTION, run.prolog_status)
        self._maybe_forget(run)

    # --- leaving RUN: epilogs -------------------------------------------------------------

    def job_cleanup(self, job_id: int, prev_state: int):
        """``job.state.cleanup``: the job ended (or failed) its run; start its epilogs."""
        if self.closed:
            return
        run = self.runs.get(job_id)
        if run is not None:
            run.ending = True
            if run.ctld_prolog:
                self.host.flush_job(job_id)  # SIGKILL, not timed out: not a failure
            if run.node_prologs:
                self.exec.cancel_prologs(job_id)
        if prev_state != State.RUN:
            return  # cancelled while pending: no hook at all
        job = self.p.job_view(job_id)
        if self.node_epilog or self.ctld_epilog:
            if run is None:
                run = self.runs[job_id] = JobHooks(job_id)
                run.ending = True
            self.p.epilog_start(DESCRIPTION)
            self._start_epilogs(job, run)
        if run is not None:
            if run.orphaned_prolog:
                self._close_prolog(run)
            self._maybe_forget(run)

    def _start_epilogs(self, job, run: JobHooks):
        run.epilog_open = True
        try:
            self._run_epilogs(job, run)
        except Exception:
            # A bug here must not leave the job (and its nodes) waiting for epilogs.
            log.exception("prep: JobId=%d: the epilogs could not start", job.id)
            self.epilog_units.discard(job.id)
            run.ctld_epilog = False
            if run.node_epilogs:
                run.node_epilogs = False
                self.exec.skip_epilogs(job.id, job.ranks)
            elif self.node_epilog:
                self.exec.skip_epilogs(job.id, job.ranks)
            run.epilog_status = run.epilog_status or 1
        self._maybe_close_epilog(run)

    def _run_epilogs(self, job, run: JobHooks):
        if self.ctld_epilog:
            record = JobRecord.from_job(job, self.output_dir)
            if job.requeue_pending:
                # Slurm requeues before the epilogs run: they see the next restart count.
                record = replace(record, restart_count=job.restart_count + 1)
            result = self.host.epilog_slurmctld(record)
            run.ctld_epilog = self.epilog_units.start(job.id, result.pending)
        if self.node_epilog:
            requests = self._node_requests(job)
            run.node_epilogs = True
            self.exec.run_epilogs(job.id, job.ranks, requests, self._node_epilog_done,
                                  self._node_epilogs_over)

    def _node_epilog_done(self, job_id: int, rank: int, status: int, error: str | None):
        run = self.runs.get(job_id)
        if status:
            job = self._view(job_id)
            node = _node_name(job, rank)
            if error is None:
                log.error("prep: JobId=%d epilog error on %s, draining the node", job_id, node)
                self.resources.drain([rank], EPILOG_DRAIN_REASON, update_reason=False)
            else:
                log.error("prep: JobId=%d: epilog did not run on node %s: %s", job_id, node,
                          error)
            if not self.closed and job is not None and job.state == State.CLEANUP:
                self.p.raise_exception(job_id, "epilog", 2, f"Epilog failure on node {node}")
            if run is not None and not run.epilog_status:
                run.epilog_status = status

    def _node_epilogs_over(self, job_id: int):
        """Every node's epilog is done and exec released the last of them."""
        run = self.runs.get(job_id)
        if run is not None:
            run.node_epilogs = False
            self._maybe_close_epilog(run)

    def _maybe_close_epilog(self, run: JobHooks):
        if not run.epilog_open or run.node_epilogs or run.ctld_epilog:
            return
        run.epilog_open = False
        if not self.closed:
            self.p.epilog_finish(run.job_id, DESCRIPTION, run.epilog_status)
        self._maybe_forget(run)

    def _maybe_forget(self, run: JobHooks):
        if run.ending and not run.prolog_open and not run.epilog_open and \
                self.runs.get(run.job_id) is run:
            del self.runs[run.job_id]

    # --- asynchronous controller hooks ----------------------------------------------------

    def on_callback(self, kind: CallType, rc: int, job_id: int, timed_out: bool):
        """A controller hook's callback, on the event loop."""
        if self.closed:
            return
        counted = (kind.name.lower(), rc != 0 or timed_out)
        results = self.host.async_results
        results[counted] = results.get(counted, 0) + 1
        if kind == CallType.PROLOG_SLURMCTLD:
            failed = self.prolog_units.report(rc, job_id, timed_out)
            if failed is None:
                return
            run = self.runs.get(job_id)
            job = self._view(job_id)
            if run is None or job is None:
                return
            self._ctld_prolog_over(job, run, failed)
            return
        failed = self.epilog_units.report(rc, job_id, timed_out)
        if failed is None:
            return
        if failed and not timed_out:
            log.error("prep: epilog_slurmctld JobId=%d failed (only logged)", job_id)
        run = self.runs.get(job_id)
        if run is not None:
            run.ctld_epilog = False
            self._maybe_close_epilog(run)

    # --- requeue delay --------------------------------------------------------------------

    def priority(self, p, args) -> int:
        """``job.state.priority`` / ``job.priority.get``: a requeued job has no priority
        until its requeue delay is over."""
        job = self._view(args["id"])
        if job is None or job.t_eligible is None:
            return 0
        if job.t_eligible <= time.time():
            self._delayed.pop(job.id, None)
            return 0
        self._delayed[job.id] = job.t_eligible
        self._arm_delay_timer()
        return p.priority_unavail(args)

    def _arm_delay_timer(self):
        if not self._delayed or self.closed:
            return
        deadline = min(self._delayed.values())
        if self._delay_timer is not None:
            if self._delay_deadline <= deadline:
                return
            self._delay_timer.stop()
        self._delay_deadline = deadline
        self._delay_timer = self.p.get_flux().timer(max(deadline - time.time(), 0.0),
                                                    self._delay_over)

    def _delay_over(self, timer):
        self._delay_timer = None
        now = time.time()
        due = [job_id for job_id, deadline in self._delayed.items() if deadline <= now]
        for job_id in due:
            del self._delayed[job_id]
        if due and not self.closed:
            self.p.reprioritize_all()
        self._arm_delay_timer()

    # --- restart --------------------------------------------------------------------------

    def restarted(self, job_ids):
        """The jobs the store gave back, before their restart callbacks: find the prologs and
        epilogs the previous controller left open (from the eventlogs)."""
        reprioritize = False
        for job_id in job_ids:
            job = self._view(job_id)
            if job is None:
                continue  # the restart ended it
            if job.state == State.PRIORITY and job.restart_count:
                reprioritize = True  # a requeued job still waiting for a priority
            if job.state not in (State.RUN, State.CLEANUP) or not job.has_resources:
                continue
            opened = _open_actions(job.events())
            if job.state == State.RUN:
                if "prolog" in opened:
                    run = self.runs[job.id] = JobHooks(job.id)
                    run.prolog_open = run.orphaned_prolog = True
                    if job.request.requeue:
                        self.p.job_requeue(job.id, RESTARTED_IN_PROLOG,
                                           delay=self.settings.requeue_delay)
                continue
            # (The epilog-start of a run is stored with the event that ended it, in the same
            # commit: a job in CLEANUP has its epilogs started or has none to run.)
            if opened:
                self._restart_work.append((job.id, opened))
        self._reprioritize_after_restart = reprioritize

    def resume(self):
        """After the restart callbacks: run again the epilogs left open, close the prologs."""
        for job_id, opened in self._restart_work:
            job = self._view(job_id)
            if job is None or job.state != State.CLEANUP:
                continue
            run = self.runs[job_id] = JobHooks(job_id)
            run.ending = True
            run.prolog_open = "prolog" in opened
            if "epilog" in opened:
                if self.node_epilog or self.ctld_epilog:
                    self._start_epilogs(job, run)
                else:  # no epilog is configured any more
                    self.p.epilog_finish(job_id, DESCRIPTION, 0)
            self._close_prolog(run)
        self._restart_work = []
        if self._reprioritize_after_restart:
            self._reprioritize_after_restart = False
            self.p.reprioritize_all()

    # --- helpers --------------------------------------------------------------------------

    def _view(self, job_id: int):
        """The job's `JobView`, or None once it is no longer active."""
        try:
            return self.p.job_view(job_id)
        except OSError:
            return None

    def _node_requests(self, job) -> dict[int, dict]:
        """``{rank: {"job_env": ..., "cred": ...}}`` for every node of the job."""
        nodes = jobinfo.nodes(job)
        base = JobEnv.from_job(job, nodes[0].name)
        cred = Cred.from_job(job, self.key, self.output_dir)
        if job.requeue_pending:
            cred = self.key.sign(replace(cred, restart_count=job.restart_count + 1))
        cred_dict = cred.to_dict()
        return {
            node.rank: {
                "job_env": replace(base, node_name=node.name,
                                   gres_env=gpu_env(node.gpus)).to_dict(),
                "cred": cred_dict,
            }
            for node in nodes
        }


def _node_name(job, rank: int) -> str:
    """The name of the job's node ``rank`` (``rank N`` for a job no longer active)."""
    for node in jobinfo.nodes(job) if job is not None else ():
        if node.rank == rank:
            return node.name
    return f"rank {rank}"


def _open_actions(events) -> set[str]:
    """``{"prolog", "epilog"}``: which of this bridge's actions an eventlog leaves open."""
    balance = {"prolog": 0, "epilog": 0}
    for event in events:
        name = event["name"]
        if name in ("prolog-start", "prolog-finish", "epilog-start", "epilog-finish") and \
                (event.get("context") or {}).get("description") == DESCRIPTION:
            action, _dash, edge = name.partition("-")
            balance[action] += 1 if edge == "start" else -1
    return {action for action, count in balance.items() if count > 0}


def deliver_to_loop(loop, bridge_ref):
    """The controller's ``deliver``: hand a callback to the event loop from any thread.
    ``bridge_ref()`` gives the bridge (it exists only once the host is initialised)."""

    def deliver(kind, rc, job_id, timed_out):
        try:
            loop.call_soon_threadsafe(_on_loop, bridge_ref, kind, rc, job_id, timed_out)
        except RuntimeError:
            log.debug("prep: %s callback for job %d after the loop stopped", kind.name.lower(),
                      job_id)

    return deliver


def _on_loop(bridge_ref, kind, rc, job_id, timed_out):
    bridge = bridge_ref()
    if bridge is None:
        log.warning("prep: %s callback for job %d before the controller was ready",
                     kind.name.lower(), job_id)
        return
    try:
        bridge.on_callback(kind, rc, job_id, timed_out)
    except Exception:
        log.exception("prep: error handling the %s callback of job %d", kind.name.lower(),
                      job_id)

