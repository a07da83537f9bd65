"""Plugins cannot take corral down: every way a plugin can fail is logged
with its name and traceback and handled as flux-core handles a failed callback; slow
callbacks are logged with plugin and topic; removal runs destructors and drops services,
subscriptions and timers."""

import errno
import time

from jobtap_helpers import (
    config_file,
    dmesg,
    events,
    json_lines,
    load,
    loaded,
    plugin,
    remove,
    rpc_error,
    submit,
    until,
    wait,
)


def _log(client) -> str:
    return "\n".join(dmesg(client))


def test_a_raising_callback_is_a_failed_callback(instance):
    """The exception is logged with plugin, topic and traceback; as for any failed
    callback, later plugins are skipped for that call and the job goes on."""
    with instance.client() as client:
        load(client, plugin("misbehave.py"))
        load(client, plugin("args_check.py"))
        job_id = submit(client, setattr=["system.misbehave=raise"])
        wait(client, job_id)
        assert client.job(job_id)["result"] == 1
        log = _log(client)
        assert ("jobtap: misbehave.py: job.state.run: callback raised RuntimeError: run "
                "callback failed on purpose\nTraceback (most recent call last):") in log
        assert "misbehave.py\", line" in log
        topics = [item["topic"] for item in json_lines(dmesg(client), "args-check: ")]
        assert "job.state.run" not in topics and "job.state.cleanup" in topics

        job_id = submit(client, setattr=["system.misbehave=bad-return"])
        wait(client, job_id)
        assert ("jobtap: misbehave.py: job.state.run: callback returned 'yes', expected an "
                "int or None") in _log(client)


def test_plugin_init_failures_fail_the_load_only(instance):
    with instance.client() as client:
        path = plugin("init_raises.py")
        error = rpc_error(load, client, path)
        assert (error.errno, error.strerror) == (
            errno.EINVAL, f"{path}: plugin_init failed: RuntimeError: init failed on purpose")
        assert ("jobtap: init_raises.py: plugin_init raised RuntimeError: init failed on "
                "purpose\nTraceback") in _log(client)
        path = plugin("init_fails.py")
        error = rpc_error(load, client, path)
        assert (error.errno, error.strerror) == (errno.EINVAL, f"{path}: plugin_init failed")
        assert [name for name in loaded(client) if not name.startswith(".")] == []
        wait(client, submit(client))


def test_services_timers_and_continuations_that_raise_are_logged(instance):
    with instance.client() as client:
        load(client, plugin("misbehave.py"))
        error = rpc_error(client.rpc, "job-manager.misbehave.raises")
        assert (error.errno, error.strerror) == (
            errno.EIO, "job-manager.misbehave.raises: service failed on purpose")
        error = rpc_error(client.rpc, "job-manager.misbehave.async")
        assert (error.errno, error.strerror) == (
            errno.EIO, "job-manager.misbehave.async: 'coroutine failed on purpose'")
        client.rpc("job-manager.misbehave.timer")
        client.rpc("job-manager.misbehave.continuation")
        client.rpc("job-manager.misbehave.spawn")
        until(lambda: "task raised" in _log(client))
        until(lambda: "rpc continuation raised" in _log(client))
        until(lambda: "timer raised" in _log(client))
        log = _log(client)
        for line in (
            "jobtap: misbehave.py: service job-manager.misbehave.raises raised ValueError: "
            "service failed on purpose\nTraceback",
            "jobtap: misbehave.py: service job-manager.misbehave.async raised KeyError: "
            "'coroutine failed on purpose'\nTraceback",
            "jobtap: misbehave.py: timer raised ZeroDivisionError: division by zero\n"
            "Traceback",
            "jobtap: misbehave.py: rpc continuation raised IndexError: list index out of "
            "range\nTraceback",
            "jobtap: misbehave.py: task raised OSError: task failed on purpose\nTraceback",
        ):
            assert line in log
        wait(client, submit(client))


def test_a_callback_holding_the_event_loop_is_logged(tmp_path, make_instance):
    """Default threshold 100 ms; ``[job-manager] slow-callback-threshold`` changes it."""
    slow = "jobtap: misbehave.py: job.state.run: callback held the event loop for"
    instance = make_instance()
    with instance.client() as client:
        load(client, plugin("misbehave.py"))
        wait(client, submit(client, setattr=["system.misbehave=slow"]))
        assert slow in _log(client)
    conf = config_file(tmp_path, '[job-manager]\nslow-callback-threshold = "1s"\n')
    instance = make_instance(config=conf)
    with instance.client() as client:
        load(client, plugin("misbehave.py"))
        wait(client, submit(client, setattr=["system.misbehave=slow"]))
        assert slow not in _log(client)


def test_removal_runs_destructors_and_drops_services_subscriptions_and_timers(instance):
    with instance.client() as client:
        load(client, plugin("misbehave.py"))
        load(client, plugin("ticker.py"))
        load(client, plugin("subscribe_check.py"))
        job_id = submit(client, run="60s")
        wait(client, job_id, "start")
        until(lambda: _log(client).count("ticker: tick") >= 2)
        remove(client, "all")
        ticks = _log(client).count("ticker: tick")
        assert ("jobtap: misbehave.py: destructor raised RuntimeError: destructor failed on "
                "purpose") in _log(client)
        assert rpc_error(client.rpc, "job-manager.misbehave.timer").errno == errno.ENOSYS
        client.cancel(job_id)
        wait(client, job_id)
        seen = [item["topic"] for item in json_lines(dmesg(client), "subscribe-check: ")]
        assert "job.event.exception" not in seen and "job.state.cleanup" not in seen
        time.sleep(0.2)
        assert _log(client).count("ticker: tick") == ticks
        assert events(client, job_id, "exception")[0]["context"]["type"] == "cancel"
