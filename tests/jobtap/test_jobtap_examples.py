"""The plugins in ``examples/jobtap`` do what their documentation says, through the commands
that load and query them (their behaviour on a virtual clock: tests/testing/test_kit.py,
test_jobtap_priority.py)."""

import errno
import json

from jobtap_helpers import (
    EXAMPLES,
    events,
    load,
    plugin,
    query,
    rpc_error,
    state,
    submit,
    wait,
)


def test_user_job_limit_rejects_with_a_message(instance):
    with instance.client() as client:
        held = [submit(client, urgency=0) for _ in range(2)]
    instance.corral("jobtap", "load", f"{EXAMPLES}/user_job_limit.py", "max-active=2")
    result = instance.corral("submit", "true", check=False)
    assert (result.returncode, result.stderr) == (
        1, "corral submit: rejected by user_job_limit.py: user 0 already has 2 active jobs "
           "(limit 2)\n")
    assert json.loads(instance.corral("jobtap", "query", "user_job_limit.py").stdout) == {
        "name": "user_job_limit.py", "path": f"{EXAMPLES}/user_job_limit.py",
        "max_active": 2, "active": {"0": 2}}
    with instance.client() as client:
        client.cancel(held[0])
        wait(client, held[0])
        accepted = submit(client, urgency=0)
        error = rpc_error(submit, client)
        assert error.errno == errno.EINVAL
        for job_id in (held[1], accepted):
            client.cancel(job_id)
            wait(client, job_id)
        assert query(client, "user_job_limit.py")["active"] == {}
    result = instance.corral("jobtap", "load", "--remove=user_job_limit.py",
                             f"{EXAMPLES}/user_job_limit.py", "max-active=0", check=False)
    assert result.returncode == 1
    assert result.stderr.endswith("user_job_limit.py: plugin_init failed\n")


def test_external_priority_waits_for_a_pushed_priority_and_keeps_it(instance):
    with instance.client() as client:
        load(client, f"{EXAMPLES}/external_priority.py")
        instance.corral("queue", "stop")
        waiting, held = submit(client), submit(client, urgency=0)
        for job_id in (waiting, held):
            wait(client, job_id, "depend")
            assert state(client, job_id) == "PRIORITY"
        client.rpc("job-manager.external-priority.set", {"id": waiting, "priority": 7})
        client.rpc("job-manager.external-priority.set", {"id": held, "priority": 7})
        wait(client, waiting, "priority")
        wait(client, held, "priority")
        assert client.job(held)["priority"] == 0  # a hold beats the pushed value
        load(client, plugin("load_order.py"))  # a load reprioritizes everything
        assert [e["context"]["priority"] for e in events(client, waiting, "priority")] == [7]
        error = rpc_error(client.rpc, "job-manager.external-priority.set",
                          {"id": waiting, "priority": "high"})
        assert error.errno == errno.EPROTO
        instance.corral("queue", "start")
        wait(client, waiting)
        client.cancel(held)
