"""Priorities: flux-core checklist items 10-17 (t2212, t2216) and the seed's priority calls
(`reprioritize_all`, `reprioritize_job`, `priority_unavail`).  Those that need no process
and no controller log run in the plugin test kit (`corral_kit`), on a virtual clock."""

import errno

import pytest
from jobtap_helpers import (
    EXAMPLES,
    dmesg,
    events,
    load,
    plugin,
    state,
    submit,
    until,
    wait,
)

from corral.states import State
from corral.testing import RPCFailure


def _priorities(client, job_id) -> list[int]:
    return [event["context"]["priority"] for event in events(client, job_id, "priority")]


def _started_in_order(client, job_ids) -> list[int]:
    starts = {job_id: wait(client, job_id, "start")["timestamp"] for job_id in job_ids}
    return sorted(job_ids, key=starts.get)


def test_with_only_builtins_priority_is_urgency_and_urgency_reorders_the_queue(
        make_instance):
    """Item 10: priority = urgency; a new urgency re-sorts pending alloc requests (the
    ``debug`` flag shows each request as a ``debug.alloc-request`` event)."""
    instance = make_instance(test_size=1)
    with instance.client() as client:
        job_id = submit(client, urgency=8)
        wait(client, job_id)
        assert _priorities(client, job_id) == [8]

        blocker = submit(client, run="60s", nnodes=1, exclusive=True)
        wait(client, blocker, "start")
        first, second = (submit(client, flags=2, nnodes=1, exclusive=True) for _ in range(2))
        wait(client, first, "debug.alloc-request")
        wait(client, second, "debug.alloc-request")
        client.set_urgency(second, 18)
        until(lambda: _priorities(client, second) == [16, 18])
        client.cancel(blocker)
        assert _started_in_order(client, [first, second]) == [second, first]


def _kit_priorities(kit, job_id) -> list[int]:
    return [event["context"]["priority"] for event in kit.events(job_id, "priority")]


def test_a_plugin_holding_every_job_leaves_it_in_sched_until_urgency_releases_it(
        corral_kit):
    """Item 11 (submit-hold.so): priority 0 jobs sit in SCHED; urgency releases one; a held
    job can be canceled."""
    kit = corral_kit(plugins=[plugin("submit_hold.py")])
    released, canceled = kit.submit(), kit.submit()
    kit.advance(60)
    for job_id in (released, canceled):
        assert _kit_priorities(kit, job_id) == [0]
        assert kit.job(job_id)["state"] == State.SCHED
    kit.set_urgency(released, 1)
    kit.wait(released)
    assert _kit_priorities(kit, released) == [0, 1]
    kit.cancel(canceled)
    kit.wait(canceled)
    assert "alloc" not in kit.names(canceled)


def test_a_job_waits_in_priority_until_its_priority_is_pushed(corral_kit):
    """Item 13 (priority-wait.so) and the seed calls: `priority_unavail` in
    ``job.state.priority`` keeps the job in PRIORITY; a service calling `reprioritize_job`
    releases it with that priority."""
    kit = corral_kit()
    kit.load(f"{EXAMPLES}/external_priority.py")
    job_id = kit.submit()
    kit.advance(3600)
    assert kit.job(job_id)["state"] == State.PRIORITY
    assert kit.job(job_id)["priority"] == -1
    kit.rpc("job-manager.external-priority.set", {"id": job_id, "priority": 42000})
    kit.wait(job_id)
    assert _kit_priorities(kit, job_id) == [42000]
    with pytest.raises(RPCFailure) as caught:
        kit.rpc("job-manager.external-priority.set", {"id": 12345, "priority": 1})
    assert caught.value.errno == errno.ENOENT


def test_misbehaving_priority_callbacks_do_not_stop_jobs(instance):
    """Item 14: test.so's modes for ``job.state.priority`` and ``job.state.sched``; every job
    completes and is annotated with its mode."""
    modes = ["priority unset", "callback error", "sched: priority unavail",
             "sched: update priority", "sched: dependency-add", "sched: exception error",
             "annotations error"]
    with instance.client() as client:
        load(client, plugin("modes.py"), remove="all")
        jobs = {mode: submit(client, setattr=[f"system.jobtap.test-mode={mode}"])
                for mode in modes}
        for mode, job_id in jobs.items():
            wait(client, job_id)
            assert client.job(job_id)["annotations"]["test"] == mode
            assert events(client, job_id, "exception") == []
            assert client.job(job_id)["result"] == 1
        assert _priorities(client, jobs["sched: update priority"]) == [16, 42]
        log = "\n".join(dmesg(client))
        assert "jobtap: job.state.priority: callback returned error" in log
        assert "jobtap: modes.py: job.state.sched: callback raised OSError" in log
        assert "annotations must be an object" in log


def test_a_priority_of_the_wrong_type_is_a_nonfatal_exception_typed_by_topic(instance):
    """Item 15: the job stays in PRIORITY, with a severity 4 exception named after the topic;
    and a plugin's fatal exception from ``job.state.sched`` ends its job."""
    with instance.client() as client:
        load(client, plugin("modes.py"), remove="all")
        job_id = submit(client, setattr=["system.jobtap.test-mode=priority type error"])
        exception = wait(client, job_id, "exception")["context"]
        assert exception["type"] == "job.state.priority"
        assert exception["severity"] == 4
        assert exception["note"].startswith("arg_unpack: priority: ")
        assert exception["note"].endswith(" (job may be stuck in PRIORITY state)")
        assert state(client, job_id) == "PRIORITY"
        client.cancel(job_id)
        wait(client, job_id)

        job_id = submit(client, setattr=["system.jobtap.test-mode=sched: exception"])
        exception = wait(client, job_id, "exception")["context"]
        assert (exception["type"], exception["severity"], exception["note"]) == (
            "test", 0, "sched: test exception")


def test_failing_priority_get_keeps_priorities_during_reprioritize_all(instance):
    """Item 16: ``job.priority.get`` that fails, is unavailable in SCHED, or answers the
    wrong type keeps each job's priority; all jobs still run."""
    modes = ["priority.get: fail", "priority.get: unavail", "priority.get: bad arg"]
    with instance.client() as client:
        load(client, plugin("modes.py"), remove="all")
        instance.corral("queue", "stop")
        jobs = [submit(client, setattr=[f"system.jobtap.test-mode={mode}"]) for mode in modes]
        for job_id in jobs:
            wait(client, job_id, "priority")
        client.rpc("job-manager.test.reprioritize", {})
        instance.corral("queue", "start")
        for job_id in jobs:
            wait(client, job_id)
            assert _priorities(client, job_id) == [16]
        log = "\n".join(dmesg(client))
        assert "jobtap: job.priority.get: callback failed" in log
        assert f"jobtap: {jobs[1]}: BUG: plugin didn't return priority" in log
        assert "jobtap: job.priority.get: arg_unpack: priority" in log


def test_a_priority_plugin_reorders_the_queue(corral_kit):
    """Item 17 (priority-invert.so): later jobs first."""
    kit = corral_kit(plugins=[plugin("priority_invert.py")])
    blocker = kit.submit(run=60, nnodes=1, exclusive=True)
    kit.wait(blocker, "start")
    jobs = [kit.submit(run=1, nnodes=1, exclusive=True) for _ in range(3)]
    kit.advance(1)
    kit.cancel(blocker)
    starts = {job_id: kit.wait(job_id, "start")["timestamp"] for job_id in jobs}
    assert sorted(jobs, key=starts.get) == jobs[::-1]
    assert [_kit_priorities(kit, job_id) for job_id in jobs] == [[job_id] for job_id in jobs]


def test_reprioritize_all_releases_a_job_sent_back_to_priority_with_its_old_priority(
        corral_kit):
    """A job sent from SCHED back to PRIORITY (urgency) that waits there, and then gets the
    priority it had before from `reprioritize_all`, leaves PRIORITY (a ``priority`` event is
    always posted in PRIORITY, as flux-core's reprioritize does)."""
    kit = corral_kit(plugins=[plugin("priority_on_request.py")])
    kit.rpc("job-manager.queue-start", {"start": False})
    job_id = kit.submit()
    kit.advance(1)
    assert kit.job(job_id)["state"] == State.PRIORITY
    kit.rpc("job-manager.priority-on-request.now", {})
    kit.wait(job_id, "priority")
    kit.set_urgency(job_id, 20)
    kit.advance(1)
    assert kit.job(job_id)["state"] == State.PRIORITY
    kit.rpc("job-manager.priority-on-request.now", {})
    kit.advance(1)
    assert _kit_priorities(kit, job_id) == [500, 500]
    assert kit.job(job_id)["state"] == State.SCHED
