"""Job updates: flux-core checklist item 35 (t2290, t2291): ``job.update.<key>``,
``job-manager.update`` and ``corral job update``, with ``.update-duration`` and
``.update-queue``."""

import errno

from jobtap_helpers import (
    as_guest,
    events,
    load,
    remove,
    rpc_error,
    spec,
    submit,
    until,
    wait,
)


def _update(client, job_id, **updates):
    keys = {f"attributes.system.{key}": value for key, value in updates.items()}
    return client.rpc("job-manager.update", {"id": job_id, "updates": keys})


def _updates(client, job_id) -> list[dict]:
    return [event["context"] for event in events(client, job_id, "jobspec-update")]


def test_duration_updates_of_pending_jobs(instance):
    with instance.client() as client:
        job_id = submit(client, urgency=0, duration="10m")
        wait(client, job_id, "priority")

    result = instance.corral("job", "update", job_id, "duration=+5m")
    assert (result.returncode, result.stdout) == (0, "")
    result = instance.corral("job", "update", "--dry-run", job_id, "duration=1h", "name=x")
    assert result.stdout == ('{"attributes.system.duration": 3600.0, '
                             '"attributes.system.job.name": "x"}\n')
    result = instance.corral("job", "update", job_id, "foo=1", check=False)
    assert (result.returncode, result.stderr) == (
        1, "corral job update: update of attributes.system.foo not supported\n")
    with instance.client() as client:
        until(lambda: _updates(client, job_id))
        assert _updates(client, job_id) == [{"attributes.system.duration": 900.0}]
        # the job went back through PRIORITY for its new jobspec
        assert [e["name"] for e in client.eventlog(job_id)][-2:] == ["jobspec-update",
                                                                     "priority"]
        for value, message in ((-1, "duration must not be negative"),
                               ("x", "plugin args unpack failed")):
            error = rpc_error(_update, client, job_id, duration=value)
            assert (error.errno, error.strerror) == (errno.EINVAL, message)
        error = rpc_error(_update, client, job_id, duration=60, foo=1)
        assert error.strerror == "update of attributes.system.foo not supported"
        assert len(_updates(client, job_id)) == 1  # all or nothing
        error = rpc_error(client.rpc, "job-manager.update",
                          {"id": job_id, "updates": {"nope.x": 1}})
        assert (error.errno, error.strerror) == (
            errno.EINVAL, "one or more jobspec updates are invalid")
        error = rpc_error(_update, client, 4242, duration=60)
        assert (error.errno, error.strerror) == (errno.ENOENT, "unknown job id")
        client.cancel(job_id)
        wait(client, job_id)
        error = rpc_error(_update, client, job_id, duration=60)
        assert (error.errno, error.strerror) == (errno.EINVAL, "job is inactive")


def test_a_running_job_duration_is_the_owners_to_change(guest_instance):
    """Guests update only their own jobs and not a running job's duration; the owner may,
    which posts ``resource-update`` with the new expiration."""
    instance = guest_instance()
    with instance.client() as client:
        owner_job = submit(client, urgency=0)
        wait(client, owner_job, "priority")
    error = rpc_error(as_guest, instance.uri,
                      lambda client: _update(client, owner_job, duration=60))
    assert (error.errno, error.strerror) == (errno.EPERM, "guests may only update their "
                                                          "own jobs")

    def submit_running(client):
        job_id = client.submit(spec(run="60s", duration="10m"))
        client.wait_event(job_id, "start", 15)
        return job_id

    running = as_guest(instance.uri, submit_running)
    error = rpc_error(as_guest, instance.uri,
                      lambda client: _update(client, running, duration=1200))
    assert error.strerror == "duration update of running job requires instance owner privileges"
    with instance.client() as client:
        _update(client, running, duration=1200)
        until(lambda: events(client, running, "resource-update"))
        starttime = client.job_info(running, "R")["R"]["execution"]["starttime"]
        assert events(client, running, "resource-update")[0]["context"] == {
            "expiration": starttime + 1200}
        assert events(client, running, "set-flags")[0]["context"] == {"flags": ["immutable"]}
        error = rpc_error(_update, client, running, duration=0.001)
        assert error.strerror == "requested duration places job expiration in the past"
        client.cancel(running)
        client.cancel(owner_job)


def test_owner_updates_bypass_limits_and_make_a_guest_job_immutable(guest_instance):
    instance = guest_instance('[policy.limits]\nduration = "1h"\n')
    guest_job = as_guest(instance.uri, lambda client: client.submit(
        spec(duration="30m"), urgency=0))
    error = rpc_error(as_guest, instance.uri,
                      lambda client: _update(client, guest_job, duration=7200))
    assert error.strerror == "requested duration (2h) exceeds policy limit of 1h"
    as_guest(instance.uri, lambda client: _update(client, guest_job, duration=1800.0))
    with instance.client() as client:
        _update(client, guest_job, duration=7200)
        until(lambda: len(_updates(client, guest_job)) == 2)
        assert events(client, guest_job, "set-flags")[0]["context"] == {"flags": ["immutable"]}
    error = rpc_error(as_guest, instance.uri,
                      lambda client: _update(client, guest_job, duration=60))
    assert (error.errno, error.strerror) == (
        errno.EPERM, "job is immutable due to previous instance owner update")
    with instance.client() as client:
        load(client, ".update-duration", conf={"owner-allow-any": 0},
             remove=".update-duration")
        error = rpc_error(_update, client, guest_job, duration=9000)
        assert error.strerror == "requested duration (2.5h) exceeds policy limit of 1h"
        client.cancel(guest_job)


QUEUES = """\
[[resource.config]]
hosts = "node0"
cores = "0"
properties = ["debug"]

[queues.batch]
[queues.debug]
requires = ["debug"]

[policy.jobspec.defaults.system]
queue = "batch"
"""


def test_queue_updates(tmp_path, make_instance):
    conf = tmp_path / "queues.toml"
    conf.write_text(QUEUES)
    instance = make_instance(config=conf)
    with instance.client() as client:
        job_id = submit(client, urgency=0, queue="batch")
        wait(client, job_id, "priority")
        _update(client, job_id, queue="debug")
        until(lambda: _updates(client, job_id))
        assert _updates(client, job_id) == [{
            "attributes.system.queue": "debug",
            "attributes.system.constraints": {"properties": ["debug"]}}]
        assert client.job(job_id)["queue"] == "debug"
        error = rpc_error(_update, client, job_id, queue="debug")
        assert error.strerror == "job queue is already set to debug"
        error = rpc_error(_update, client, job_id, queue="nope")
        assert error.strerror == "'nope' is not a valid queue"
        instance.corral("queue", "disable", "--queue=batch", "maintenance")
        error = rpc_error(_update, client, job_id, queue="batch")
        assert error.strerror == "queue batch is currently disabled"
        instance.corral("queue", "enable", "--queue=batch")
        _update(client, job_id, queue="batch")
        until(lambda: len(_updates(client, job_id)) == 2)
        assert _updates(client, job_id)[1] == {"attributes.system.queue": "batch",
                                                "attributes.system.constraints": {}}

        extra = client.submit(spec(queue="batch", setattr=[
            'system.constraints={"hostlist": ["node0"]}']), urgency=0)
        error = rpc_error(_update, client, extra, queue="debug")
        assert error.strerror == ("job appears to have non-queue constraints, unable to "
                                  "update queue to batch")

        running = submit(client, run="60s", queue="batch")
        wait(client, running, "start")
        error = rpc_error(_update, client, running, queue="debug")
        assert error.strerror == "update of queue for running job not supported"

        remove(client, ".update-queue")
        error = rpc_error(_update, client, job_id, queue="debug")
        assert error.strerror == "update of attributes.system.queue not supported"
        for each in (job_id, extra, running):
            client.cancel(each)
