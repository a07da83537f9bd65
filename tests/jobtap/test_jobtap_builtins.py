"""Builtins with flux-core's names, configuration keys and messages:
``.limit-job-size``, ``.limit-duration``, ``.validate-duration``, ``.begin-time``,
``.history`` and ``.post-event`` (the dependency and update builtins have their own files).
The limits and ``.begin-time`` run in the plugin test kit (`corral_kit`), on a virtual
clock: an hour's wait takes no time."""

import errno
import time

import pytest
from jobtap_helpers import (
    as_guest,
    config_file,
    load,
    names,
    rpc_error,
    spec,
    submit,
    until,
    wait,
)

from corral.states import State
from corral.testing import RPCFailure

LIMITS = """\
[policy.limits]
duration = "1h"

[policy.limits.job-size.max]
ncores = 2
nnodes = 1

[policy.limits.job-size.min]
ncores = 2

[queues.small.policy.limits]
duration = "10m"
job-size.max.ncores = 1
job-size.min.ncores = -1

[queues.big.policy.limits]
duration = "0"
job-size.max.ncores = -1

[queues.batch]

[policy.jobspec.defaults.system]
queue = "batch"
"""


def test_job_size_and_duration_limits(corral_kit):
    kit = corral_kit(config=LIMITS, nodes=2, cores_per_node=4)
    # Jobs that name no queue get the default one in their jobspec, so the messages name
    # it, as flux-core's do for a jobspec-defaults queue.
    for options, message in [
        ({"ntasks": 3, "duration": "30m"},
         "requested ncores (3) exceeds policy limit of 2 for queue batch"),
        ({"ntasks": 2, "nnodes": 2, "duration": "30m"},
         "requested nnodes (2) exceeds policy limit of 1 for queue batch"),
        ({"ntasks": 1, "duration": "30m"},
         "requested ncores (1) is under policy limit of 2 for queue batch"),
        ({"ntasks": 2, "queue": "small", "duration": "5m"},
         "requested ncores (2) exceeds policy limit of 1 for queue small"),
        ({"ntasks": 2, "duration": "2h"},
         "requested duration (2h) exceeds policy limit of 1h for queue batch"),
        ({"ntasks": 1, "queue": "small", "duration": "20m"},
         "requested duration (20m) exceeds policy limit of 10m for queue small"),
    ]:
        with pytest.raises(RPCFailure) as caught:
            kit.submit(**options)
        assert (caught.value.errno, caught.value.strerror) == (errno.EINVAL, message)
    for options in ({"ntasks": 2, "duration": "30m"},
                    {"ntasks": 1, "queue": "small", "duration": "5m"},
                    {"ntasks": 4, "nnodes": 1, "queue": "big"}):
        kit.cancel(kit.submit(urgency=0, **options))
    # A job asking for no limit gets its queue's (Slurm's MaxTime), where flux-core refuses
    # it; a guest's update to no limit is refused, as in flux-core.
    for queue, ntasks, limit in (("batch", 2, 3600), ("big", 2, 0), ("small", 1, 600)):
        job_id = kit.submit(urgency=0, ntasks=ntasks, queue=queue, userid=1000)
        assert kit.job(job_id)["duration"] == limit
    with pytest.raises(RPCFailure) as caught:
        kit.rpc("job-manager.update", {"id": job_id, "updates": {
            "attributes.system.duration": 0}}, userid=1000)
    assert caught.value.strerror == ("requested duration (unlimited) exceeds policy limit of "
                                     "10m for queue small")

    kit.rpc("job-manager.jobtap", {"remove": ".limit-job-size"})
    kit.rpc("job-manager.jobtap", {"remove": ".limit-duration"})
    kit.wait(kit.submit(ntasks=3, nnodes=2))


@pytest.mark.parametrize("text, message", [
    ('[policy.limits.job-size.max]\nncores = "x"\n',
     "policy.limits.job-size.max: Expected integer, got string"),
    ("[policy.limits.job-size.min]\nnnodes = -2\n",
     "policy.limits.job-size.min: size must be -1 (unlimited), or >= 0"),
    ('[policy.limits]\nduration = "forever"\n', "policy.limits.duration: FSD value is malformed"),
    ("[queues.q.policy.limits]\nduration = 5\n",
     "queues.q.policy.limits.duration: Expected string, got integer"),
])
def test_a_bad_limit_stops_the_start_with_the_builtins_message(tmp_path, make_instance,
                                                               text, message):
    with pytest.raises(RuntimeError) as failed:
        make_instance(config=config_file(tmp_path, text))
    assert message in str(failed.value)


def test_validate_duration_rejects_jobs_outlasting_the_instance(instance):
    """corral instances have no lifetime of their own: ``.validate-duration`` takes it from
    its conf (see compatibility.md)."""
    with instance.client() as client:
        wait(client, submit(client, duration="100d"))
        load(client, ".validate-duration", conf={"expiration": time.time() + 120},
             remove=".validate-duration")
        error = rpc_error(submit, client, duration="1h")
        assert error.strerror.startswith("job duration (1h) exceeds remaining instance "
                                         "lifetime (")
        wait(client, submit(client, duration="1m"))
        wait(client, submit(client))
        load(client, ".validate-duration", conf={"expiration": time.time() - 1},
             remove=".validate-duration")
        error = rpc_error(submit, client, duration="1m")
        assert error.strerror == "duration exceeds instance lifetime"


def test_begin_time_holds_a_job_until_its_time(corral_kit):
    kit = corral_kit()
    begin = kit.time() + 3600
    job_id = kit.submit(begin_time=begin)
    description = f"begin-time={begin:.3f}"
    assert kit.events(job_id, "dependency-add")[0]["context"] == {"description": description}
    kit.advance(3599)
    assert kit.job(job_id)["state"] == State.DEPEND
    kit.wait(job_id)
    assert kit.events(job_id, "depend")[0]["timestamp"] == begin
    assert kit.names(job_id)[:5] == ["submit", "dependency-add", "validate",
                                     "dependency-remove", "depend"]
    kit.wait(kit.submit(begin_time=kit.time() - 10))
    invalid = spec()
    invalid["attributes"]["system"]["dependencies"] = [
        {"scheme": "begin-time", "value": "soon"}]
    with pytest.raises(RPCFailure) as caught:
        kit.submit_jobspec(invalid)
    assert caught.value.strerror == "Invalid begin-time=soon"
    later = kit.submit(begin_time=kit.time() + 60)
    kit.cancel(later)  # its timer goes with it
    kit.wait(later)
    kit.advance(120)
    assert "depend" not in kit.names(later)


def test_history_lists_each_users_jobs_newest_first(guest_instance):
    instance = guest_instance()
    with instance.client() as client:
        mine = [submit(client) for _ in range(3)]
        for job_id in mine:
            wait(client, job_id)
        assert client.rpc("job-manager.history.get", {"slice": "[:]"}) == {
            "jobs": mine[::-1]}
        assert client.rpc("job-manager.history.get", {"slice": "[1:]"}) == {
            "jobs": mine[1::-1]}
        assert client.rpc("job-manager.history.get", {"slice": "[::-1]"}) == {"jobs": mine}
        error = rpc_error(client.rpc, "job-manager.history.get", {"slice": "1"})
        assert (error.errno, error.strerror) == (
            errno.EINVAL, "could not parse python-style slice expression")
    theirs = as_guest(instance.uri, lambda client: (
        client.submit(spec()), client.rpc("job-manager.history.get", {"slice": "[:]"}))[1])
    assert theirs == {"jobs": [4]}


def test_post_event_posts_through_the_state_machine(instance):
    with instance.client() as client:
        job_id = submit(client, urgency=0)
        wait(client, job_id, "priority")
        client.rpc("job-manager.post-event.post",
                   {"id": job_id, "name": "note", "context": {"x": 1}})
        client.rpc("job-manager.post-event.post",
                   {"id": job_id, "name": "urgency", "context": {"urgency": 16,
                                                                  "userid": 0}})
        wait(client, job_id)
        assert names(client, job_id)[4:7] == ["note", "urgency", "priority"]
        error = rpc_error(client.rpc, "job-manager.post-event.post",
                          {"id": 4242, "name": "note"})
        assert error.errno == errno.ENOENT
        until(lambda: client.job(job_id)["state"] == 64)
        error = rpc_error(client.rpc, "job-manager.post-event.post",
                          {"id": job_id, "name": "note"})
        assert error.errno == errno.ENOENT


def test_history_is_rebuilt_at_restart(instance):
    """Inactive jobs get ``job.inactive-add`` again when the controller restarts."""
    with instance.client() as client:
        jobs = [submit(client) for _ in range(2)]
        for job_id in jobs:
            wait(client, job_id)
    instance.restart()
    with instance.client() as client:
        assert client.rpc("job-manager.history.get", {"slice": "[:]"}) == {"jobs": jobs[::-1]}
