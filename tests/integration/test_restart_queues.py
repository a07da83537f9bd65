"""A persistent instance restarted on a configuration without one of its queues: a pending
job that named the queue ends with a fatal ``restart`` exception instead of running on other
nodes, one that was given it as the default goes to the new default queue, and running jobs
finish on their nodes (one requeued is denied its next allocation)."""

import os

import pytest

from support import events

pytestmark = pytest.mark.agent_processes  # running jobs outlive the controller

NODES = """
[[resource.config]]
hosts = "node0"
cores = "0"

[[resource.config]]
hosts = "node1"
cores = "0-1"

[prep]
requeue-delay = "0s"
"""

BEFORE = NODES + """
[queues.big]
nodes = "node1"

[queues.other]
nodes = "node0"

[policy.jobspec.defaults.system]
queue = "big"
"""

AFTER = NODES + """
[queues.other]
nodes = "node0"

[policy.jobspec.defaults.system]
queue = "other"
"""

GONE = "its queue big is no longer configured"


def ended(client, job_id) -> dict:
    """The job's listing once it is inactive."""
    client.wait_event(job_id, "clean", 30)
    return client.job(job_id)


def test_restart_without_a_queue_ends_its_pending_jobs_and_lets_running_ones_finish(
        make_instance, tmp_path):
    before, after = tmp_path / "before.toml", tmp_path / "after.toml"
    before.write_text(BEFORE)
    after.write_text(AFTER)
    go = tmp_path / "go"
    inst = make_instance(config=before)
    named = inst.submit("-q", "big", "--urgency=hold", "true")
    given = inst.submit("--urgency=hold", "true")
    finishing = inst.submit("-q", "big", "sh", "-c", f"until [ -e {go} ]; do sleep 0.1; done")
    requeued = inst.submit("-q", "big", "sleep", "300")
    with inst.client() as client:
        for job_id in (finishing, requeued):
            client.wait_event(job_id, "start", 20)
        assert client.eventlog(given)[0]["context"]["default_queue"] is True
        assert "default_queue" not in client.eventlog(named)[0]["context"]

    inst.restart(config=after)
    with inst.client() as client:
        # Named the queue: ended at restart, held as it was, never allocated.
        job = ended(client, named)
        log = client.eventlog(named)
        assert [e["name"] for e in log][-2:] == ["exception", "clean"]
        assert log[-2]["context"] == {"type": "restart", "severity": 0, "userid": os.getuid(),
                                      "note": f"the job cannot run after a restart: {GONE}"}
        assert (job["result_name"], job["queue"], events(client, named, "alloc")) == (
            "FAILED", "big", [])

        # Given the default queue: it follows the new default and runs on its nodes.
        spec = client.job_info(given, "jobspec")["jobspec"]
        assert spec["attributes"]["system"]["queue"] == "other"
        inst.corral("job", "urgency", given, "default")
        job = ended(client, given)
        assert (job["result_name"], job["queue"], job["nodelist"]) == (
            "COMPLETED", "other", "node0")
        assert [e["name"] for e in client.eventlog(given)][4:6] == ["restart", "priority"]

        # Running: it goes on where it runs and ends as it would have.
        assert client.job(finishing)["state_name"] == "RUN"
        go.touch()
        job = ended(client, finishing)
        assert (job["result_name"], job["nodelist"]) == ("COMPLETED", "node1")
        assert events(client, finishing, "exception") == []

        # Running, then requeued: never placed outside its queue.
        inst.corral("job", "requeue", requeued)
        job = ended(client, requeued)
        exceptions = [e["context"] for e in events(client, requeued, "exception")]
        assert [(e["type"], e["note"]) for e in exceptions][-1] == (
            "alloc", f"alloc denied: {GONE}")
        assert len(events(client, requeued, "requeue")) == 1
        assert len(events(client, requeued, "alloc")) == 1
        assert job["result_name"] == "FAILED"
    dmesg = inst.dmesg()
    assert f"job {named}: {GONE}; ending it" in dmesg
    assert f"job {given}: its default queue big is no longer configured; it goes to other" \
        in dmesg
