"""The controller's Prometheus endpoint (``[metrics] listen = "HOST:PORT"``, off by default).

The numbers are kept by the parts that know them, in plain ints and `Timings` updated where
the thing happens (submit, retire, a scheduler pass, a store commit, a plugin callback, a
PrEp hook), so that counting costs the controller next to nothing.  This module only reads
them: prometheus_client's own HTTP server answers scrapes on a thread of its own, and each
scrape asks the event loop for one snapshot of everything (`_Snapshot`), taken between two
callbacks, so no number is read while the loop changes it and the loop pays only for the
scrapes.  Active jobs by state and queue are counted in that snapshot (a pass over the active
jobs), not kept up to date per event; inactive jobs are only counted.

A loop too busy to answer within `SNAPSHOT_TIMEOUT` still gets a scrape: the event-loop
metrics, measured from this thread, say how long it has been stuck.  prometheus_client is
imported only by a controller that serves metrics.
"""

import concurrent.futures
import logging
import time
from collections import Counter
from operator import attrgetter

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    SummaryMetricFamily,
)

from .config import host_port
from .states import STATE_TOPIC_NAMES, Result
from .timings import Timings

log = logging.getLogger("corral.metrics")

#: Seconds a scrape waits for the event loop's snapshot.
SNAPSHOT_TIMEOUT = 2.0

#: Seconds between two readings of the event loop's lag.
LAG_INTERVAL = 0.25

_STATE_NAMES = {int(state): name for state, name in STATE_TOPIC_NAMES.items()}
#: What the snapshot counts jobs by, read in C (`Counter` over `map`): a scrape's pass over
#: 100,000 active jobs takes milliseconds.
_STATE_AND_QUEUE = attrgetter("state", "queue")
_RESULT_NAMES = {int(result): result.name.lower() for result in Result}


def listen_address(config) -> tuple[str, int] | None:
    """``[metrics] listen`` as ``(host, port)``, None when unset; a bad value is a config
    error that names the key."""
    listen = config.get_str("metrics.listen")
    if listen is None:
        return None
    try:
        return host_port(listen)
    except ValueError as exc:
        raise config.error("metrics.listen", str(exc)) from None


class LoopLag:
    """How late the event loop runs a timer due every `LAG_INTERVAL` seconds."""

    def __init__(self, loop):
        self.loop = loop
        self.timings = Timings()
        self.due = time.monotonic() + LAG_INTERVAL
        self._timer = None

    def start(self):
        self._timer = self.loop.call_later(LAG_INTERVAL, self._tick)

    def stop(self):
        if self._timer is not None:
            self._timer.cancel()

    def _tick(self):
        now = time.monotonic()
        self.timings.observe(max(0.0, now - self.due))
        self.due = now + LAG_INTERVAL
        self._timer = self.loop.call_later(LAG_INTERVAL, self._tick)

    def stalled(self) -> float:
        """Seconds the loop is late with the next tick right now (read from any thread)."""
        return max(0.0, time.monotonic() - self.due)


class Metrics:
    """The endpoint of one instance: started after its parts exist, stopped before they go."""

    def __init__(self, instance, address: tuple[str, int]):
        self.instance = instance
        self.address = address
        self.lag = LoopLag(instance.loop)
        self.server = None
        self.url = None

    def start(self):
        """Serve; `OSError` when the address cannot be bound."""
        self.instance.manager.jobtap.time_callbacks()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        host, port = self.address
        self.server, _thread = start_http_server(port, host, registry)
        bound = self.server.server_address[1]
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{bound}/metrics"
        self.lag.start()
        log.info("metrics served at %s", self.url)

    def stop(self):
        self.lag.stop()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # --- a scrape (prometheus_client's thread) ------------------------------------------

    def collect(self):
        snapshot = self._snapshot_from_loop()
        stall = GaugeMetricFamily(
            "corral_event_loop_stall_seconds",
            "How late the controller's event loop is right now with a timer due every "
            f"{LAG_INTERVAL} s (0 while it keeps up)")
        stall.add_metric([], self.lag.stalled())  # after the wait: a stuck loop shows
        yield stall
        if snapshot is not None:
            yield from snapshot.families()

    def _snapshot_from_loop(self):
        future = concurrent.futures.Future()

        def take():
            try:
                future.set_result(_Snapshot(self.instance, self.lag))
            except Exception as exc:
                log.exception("metrics: the snapshot failed")
                future.set_exception(exc)

        try:
            self.instance.loop.call_soon_threadsafe(take)
            return future.result(SNAPSHOT_TIMEOUT)
        except RuntimeError:  # the loop is closed: the instance is stopping
            return None
        except TimeoutError:
            log.warning("metrics: the event loop did not answer a scrape within %.0f s",
                        SNAPSHOT_TIMEOUT)
            return None


class _Snapshot:
    """Every number of one scrape, copied on the event loop."""

    def __init__(self, instance, lag: LoopLag):
        manager = instance.manager
        self.jobs = Counter(map(_STATE_AND_QUEUE, manager.active.values()))
        self.inactive = len(manager.inactive)
        self.submitted = manager.submitted
        self.refused = manager.refused
        self.ended = dict(manager.ended_by_result)
        self.sched_pass = instance.scheduler.pass_timings.snapshot()
        self.store_commit = instance.store.commit_timings.snapshot()
        self.loop_lag = lag.timings.snapshot()
        nodes = Counter()
        cores = [0, 0]
        gpus = [0, 0]
        for node in instance.pool.nodes:
            if node.drained:
                nodes["drained"] += 1
            elif node.idle():
                nodes["idle"] += 1
            else:
                nodes["allocated"] += 1
            cores[0] += len(node.core_ids)
            cores[1] += (node.all_cores & ~node.free_cores).bit_count()
            gpus[0] += len(node.gpu_ids)
            gpus[1] += (node.all_gpus & ~node.free_gpus).bit_count()
        self.nodes, self.cores, self.gpus = nodes, cores, gpus
        self.callbacks = [((plugin.display_name, topic), calls, seconds)
                          for topic, by_plugin in manager.jobtap.callback_times.items()
                          for plugin, (calls, seconds) in by_plugin.items()]
        prep = instance.prep_host
        self.hooks = prep.hook_times.snapshot() if prep is not None else []
        self.node_hooks = instance.exec.node_hook_times.snapshot()
        self.async_results = dict(prep.async_results) if prep is not None else {}

    def families(self):
        jobs = GaugeMetricFamily("corral_jobs", "Active jobs by state and queue",
                                 labels=["state", "queue"])
        for (state, queue), count in sorted(self.jobs.items(), key=_by_state_and_queue):
            jobs.add_metric([_STATE_NAMES[state], queue or ""], count)
        yield jobs
        yield GaugeMetricFamily("corral_jobs_inactive", "Inactive jobs kept (until purged)",
                                self.inactive)
        yield CounterMetricFamily("corral_jobs_submitted", "Jobs accepted at submit",
                                  self.submitted)
        yield CounterMetricFamily("corral_jobs_refused", "Jobs refused at submit (bad jobspec, "
                                  "a plugin's or a limit's rejection)", self.refused)
        ended = CounterMetricFamily("corral_jobs_ended", "Jobs that became inactive, by result",
                                    labels=["result"])
        for result, name in _RESULT_NAMES.items():
            ended.add_metric([name], self.ended.get(result, 0))
        yield ended
        yield _histogram("corral_scheduler_pass_seconds",
                         "Time the scheduler's passes held the event loop", self.sched_pass)
        yield _histogram("corral_store_commit_seconds",
                         "Time each batch of job store writes took to commit", self.store_commit)
        yield _histogram("corral_event_loop_lag_seconds",
                         f"How late the event loop ran a timer due every {LAG_INTERVAL} s",
                         self.loop_lag)
        nodes = GaugeMetricFamily("corral_nodes", "Nodes by state (idle, allocated, drained)",
                                  labels=["state"])
        for state in ("idle", "allocated", "drained"):
            nodes.add_metric([state], self.nodes.get(state, 0))
        yield nodes
        yield GaugeMetricFamily("corral_cores", "Cores the instance manages", self.cores[0])
        yield GaugeMetricFamily("corral_cores_allocated", "Cores allocated to jobs",
                                self.cores[1])
        yield GaugeMetricFamily("corral_gpus", "GPUs the instance manages", self.gpus[0])
        yield GaugeMetricFamily("corral_gpus_allocated", "GPUs allocated to jobs", self.gpus[1])
        callbacks = SummaryMetricFamily(
            "corral_jobtap_callback_seconds",
            "Time jobtap plugin callbacks took, by plugin and topic", labels=["plugin", "topic"])
        for labels, calls, seconds in sorted(self.callbacks):
            callbacks.add_metric(list(labels), calls, seconds)
        yield callbacks
        yield from _hook_families("corral_prep_hook", "PrEp controller hooks (their "
                                  "synchronous part)", self.hooks)
        yield from _hook_families("corral_prep_node_hook", "PrEp node hooks, on the nodes as "
                                  "their agents timed them,", self.node_hooks)
        results = CounterMetricFamily(
            "corral_prep_async_results", "Results of asynchronous PrEp controller hooks "
            "(PrologSlurmctld, EpilogSlurmctld scripts), by hook and outcome",
            labels=["hook", "outcome"])
        for (hook, failed), count in sorted(self.async_results.items()):
            results.add_metric([hook, "failure" if failed else "success"], count)
        yield results


def _by_state_and_queue(item):
    (state, queue), _count = item
    return state, queue or ""


def _histogram(name, documentation, snapshot):
    cumulative, total = snapshot
    family = HistogramMetricFamily(name, documentation)
    family.add_metric([], [(_bound(bound), count) for bound, count in cumulative], total)
    return family


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def _hook_families(prefix: str, what: str, timed):
    """``PREFIX_seconds`` and ``PREFIX_failures`` from ``CallTimes.snapshot()`` rows."""
    seconds_family = SummaryMetricFamily(f"{prefix}_seconds", f"Time {what} took, by plugin "
                                         "and hook", labels=["plugin", "hook"])
    failures = CounterMetricFamily(f"{prefix}_failures", f"Calls of {what} that failed, by "
                                   "plugin and hook", labels=["plugin", "hook"])
    for labels, calls, seconds, failed in sorted(timed):
        seconds_family.add_metric(list(labels), calls, seconds)
        failures.add_metric(list(labels), failed)
    return seconds_family, failures
