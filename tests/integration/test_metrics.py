"""The controller's Prometheus endpoint, scraped over HTTP after real jobs."""

import os
import pathlib
import stat
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support import until, wait


def scrape(url) -> dict:
    """``{(sample name, sorted labels): value}`` of one scrape."""
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def metrics_url(inst) -> str:
    with inst.client() as client:
        return client.rpc("instance.info")["metrics"]


@pytest.fixture
def metered(make_instance, tmp_path):
    """An instance of two 2-core nodes serving metrics, with a controller prolog script
    that fails for jobs named ``refuse-me``."""
    prolog = tmp_path / "ctld_prolog"
    prolog.write_text('#!/bin/sh\n[ "$SLURM_JOB_NAME" != refuse-me ]\n')
    prolog.chmod(prolog.stat().st_mode | stat.S_IXUSR)
    config = tmp_path / "corral.toml"
    config.write_text(f'[metrics]\nlisten = "127.0.0.1:0"\n\n'
                      f'[prep]\nprolog-slurmctld = "{prolog}"\n\n'
                      '[[resource.config]]\nhosts = "node[0-1]"\ncores = "0-1"\n')
    return make_instance(config=config)


def test_metrics_count_jobs_nodes_and_plugin_calls(metered):
    url = metrics_url(metered)
    assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
    done = metered.submit("true")
    failed = metered.submit("false")
    with metered.client() as client:
        wait(client, done)
        wait(client, failed)
    canceled = metered.submit("-n", "4", "sleep", "60")  # all four cores
    with metered.client() as client:
        wait(client, canceled, "start")
        waiting = metered.submit("true")  # waits for the cores
        samples = until(lambda: (s := scrape(url))
                        .get(("corral_jobs", (("queue", ""), ("state", "sched")))) and s)
        assert samples[("corral_jobs", (("queue", ""), ("state", "run")))] == 1
        assert samples[("corral_jobs_inactive", ())] == 2
        assert samples[("corral_nodes", (("state", "allocated"),))] == 2
        assert samples[("corral_nodes", (("state", "idle"),))] == 0
        assert samples[("corral_cores", ())] == 4
        assert samples[("corral_cores_allocated", ())] == 4
        assert samples[("corral_gpus_allocated", ())] == 0
        client.cancel(canceled)
        wait(client, canceled)
        wait(client, waiting)

    samples = scrape(url)
    assert samples[("corral_jobs_submitted_total", ())] == 4
    assert samples[("corral_jobs_refused_total", ())] == 0
    ended = {result: samples[("corral_jobs_ended_total", (("result", result),))]
             for result in ("completed", "failed", "canceled", "timeout")}
    assert ended == {"completed": 2, "failed": 1, "canceled": 1, "timeout": 0}
    assert samples[("corral_jobs_inactive", ())] == 4
    assert not any(name == "corral_jobs" for name, _labels in samples)  # none active
    assert samples[("corral_nodes", (("state", "idle"),))] == 2
    assert samples[("corral_cores_allocated", ())] == 0
    # The waiting job made a pass that did not start it, then one that did.
    assert samples[("corral_scheduler_pass_seconds_count", ())] >= 5
    assert samples[("corral_scheduler_pass_seconds_bucket", (("le", "+Inf"),))] == \
        samples[("corral_scheduler_pass_seconds_count", ())]
    assert samples[("corral_store_commit_seconds_count", ())] > 0
    assert samples[("corral_event_loop_stall_seconds", ())] < 1
    # The loop's lag is read every quarter of a second, which these jobs may all beat.
    until(lambda: scrape(url)[("corral_event_loop_lag_seconds_count", ())] > 0)
    # Every job entered PRIORITY once, where the builtin priority plugin answered.
    priority = (("plugin", ".priority-default"), ("topic", "job.state.priority"))
    assert samples[("corral_jobtap_callback_seconds_count", priority)] == 4
    assert samples[("corral_jobtap_callback_seconds_sum", priority)] > 0
    # The PrEp bridge ran the controller prolog script for each job that got resources.
    hook = (("hook", "prep_p_prolog_slurmctld"), ("plugin", "prep/script"))
    assert samples[("corral_prep_hook_seconds_count", hook)] == 4
    assert samples[("corral_prep_hook_failures_total", hook)] == 0
    assert samples[("corral_prep_async_results_total",
                    (("hook", "prolog_slurmctld"), ("outcome", "success")))] == 4


def test_failed_prolog_and_refused_submission_are_counted(metered):
    url = metrics_url(metered)
    refused = metered.corral("submit", "--urgency=99", "true", check=False)
    assert refused.returncode != 0
    job = metered.submit("--job-name=refuse-me", "--setattr=system.requeue=false", "true")
    metered.wait_inactive(job)
    samples = scrape(url)
    assert samples[("corral_jobs_refused_total", ())] == 1
    assert samples[("corral_prep_async_results_total",
                    (("hook", "prolog_slurmctld"), ("outcome", "failure")))] == 1
    assert samples[("corral_jobs_ended_total", (("result", "failed"),))] == 1


def test_node_hooks_are_timed_on_their_nodes_and_their_failures_counted(make_instance,
                                                                        tmp_path):
    """A node prolog that fails on node1: each node times its call, node1 counts a failure
    (and is drained)."""
    prolog = tmp_path / "prolog"
    prolog.write_text('#!/bin/sh\n[ "$SLURMD_NODENAME" != node1 ]\n')
    prolog.chmod(prolog.stat().st_mode | stat.S_IXUSR)
    config = tmp_path / "corral.toml"
    config.write_text(f'[metrics]\nlisten = "127.0.0.1:0"\n\n[prep]\nprolog = "{prolog}"\n\n'
                      '[[resource.config]]\nhosts = "node[0-1]"\ncores = "0-1"\n')
    inst = make_instance(config=config)
    url = metrics_url(inst)
    job = inst.submit("-N2", "-n2", "true")
    with inst.client() as client:
        wait(client, job, "prolog-finish")
    hook = (("hook", "prep_p_prolog"), ("plugin", "prep/script"))
    samples = until(lambda: (s := scrape(url))
                    .get(("corral_prep_node_hook_seconds_count", hook)) == 2 and s)
    assert samples[("corral_prep_node_hook_failures_total", hook)] == 1
    assert samples[("corral_prep_node_hook_seconds_sum", hook)] > 0
    assert samples[("corral_nodes", (("state", "drained"),))] == 1


def test_metrics_are_off_by_default(instance):
    assert metrics_url(instance) is None


@pytest.mark.parametrize("listen, problem", [
    ('"9100"', "expected HOST:PORT (e.g. 127.0.0.1:9100), got '9100'"),
    ('"localhost:http"', "expected HOST:PORT (e.g. 127.0.0.1:9100), got 'localhost:http'"),
    ("9100", "expected a string, got integer"),
])
def test_bad_listen_address_is_one_line(tmp_path, listen, problem):
    config = tmp_path / "corral.toml"
    config.write_text(f"[metrics]\nlisten = {listen}\n")
    result = subprocess.run([sys.executable, "-m", "corral", "start", "--config", str(config),
                             "--state-dir", str(tmp_path / "state"), "true"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == \
        [f"corral start: {config}: metrics.listen: {problem}"]


def test_address_in_use_is_one_line(tmp_path, metered):
    port = metrics_url(metered).rsplit(":", 1)[1].split("/")[0]
    config = tmp_path / "second.toml"
    config.write_text(f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    result = subprocess.run([sys.executable, "-m", "corral", "start", "--config", str(config),
                             "--state-dir", str(tmp_path / "state2"), "true"],
                            capture_output=True, text=True, timeout=60,
                            env=dict(os.environ))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == \
        f"corral start: [metrics] listen 127.0.0.1:{port}: Address already in use"


def test_active_jobs_are_counted_by_queue(make_instance, tmp_path):
    config = tmp_path / "queues.toml"
    config.write_text('[metrics]\nlisten = "127.0.0.1:0"\n\n[queues.batch]\n[queues.debug]\n')
    inst = make_instance(config=config)
    inst.corral("queue", "stop")  # every queue
    for queue in ("batch", "batch", "debug"):
        inst.submit(f"--queue={queue}", "true")
    samples = scrape(metrics_url(inst))
    jobs = {labels: value for (name, labels), value in samples.items() if name == "corral_jobs"}
    assert jobs == {(("queue", "batch"), ("state", "sched")): 2,
                    (("queue", "debug"), ("state", "sched")): 1}


def test_a_stuck_event_loop_still_gets_a_scrape_that_says_so(make_instance, tmp_path):
    config = tmp_path / "corral.toml"
    config.write_text('[metrics]\nlisten = "127.0.0.1:0"\n')
    inst = make_instance(config=config)
    url = metrics_url(inst)
    plugin = pathlib.Path(__file__).resolve().parents[1] / "plugins" / "stall.py"
    with inst.client() as client:
        client.rpc("job-manager.jobtap", {"load": str(plugin)})
        held = tmp_path / "held"
        tag = client.send("job-manager.stall.hold", {"seconds": 6, "started": str(held)})
        until(held.exists)
        started = time.monotonic()
        samples = scrape(url)
        assert time.monotonic() - started < 5  # answered while the loop is still stuck
        assert samples[("corral_event_loop_stall_seconds", ())] >= 1.5
        assert ("corral_jobs_submitted_total", ()) not in samples
        client.recv(tag, timeout=20)
    samples = scrape(url)
    assert samples[("corral_event_loop_stall_seconds", ())] < 1
    def lag_at_most(bound):
        return samples[("corral_event_loop_lag_seconds_bucket", (("le", bound),))]

    assert lag_at_most("10.0") - lag_at_most("2.5") >= 1  # the stall, seen late by a timer
    assert "metrics: the event loop did not answer a scrape within 2 s" in inst.log()
