"""``job-list`` and ``job-info`` as ``corral top`` reads them: counts by state and queue
(``job-stats``), one queue's jobs, the first ``max`` jobs in the instance's order, a running
job's expiration, the tail of a long output."""

import errno

import pytest

from corral.client import RPCError
from corral.states import State
from support import as_guest, until

SIMULATED = "--setattr=exec.test.run_duration=0"
PENDING = int(State.DEPEND | State.PRIORITY | State.SCHED)


def test_job_stats_count_states_in_all_and_per_queue(make_instance, tmp_path):
    config = tmp_path / "queues.toml"
    config.write_text('[queues.batch]\n[queues.debug]\n')
    instance = make_instance(config=config, test_size=1)
    running = instance.submit("--queue=batch", "-n2", "sleep", "300")
    with instance.client() as client:
        client.wait_event(running, "start", 20)
    instance.submit("--queue=batch", "true")  # waits for the cores
    instance.submit("--queue=debug", "--urgency=hold", "true")
    done = instance.submit("--queue=debug", SIMULATED, "--cores-per-task=1", "-n1",
                           "--urgency=expedite", "true")
    with instance.client() as client:
        stats = client.rpc("job-list.job-stats")
        queues = {queue["name"]: queue["job_states"] for queue in stats["queues"]}
        assert stats["job_states"] == {"depend": 0, "priority": 0, "sched": 3, "run": 1,
                                       "cleanup": 0, "inactive": 0, "total": 4}
        assert queues["batch"] == {"depend": 0, "priority": 0, "sched": 1, "run": 1,
                                   "cleanup": 0, "total": 2}
        assert queues["debug"]["sched"] == 2
        client.cancel(done)
        client.wait_event(done, "clean", 20)
        assert client.rpc("job-list.job-stats")["job_states"]["inactive"] == 1

        batch = client.rpc("job-list.list", {"userid": -1, "queue": "batch"})["jobs"]
        assert sorted(job["queue"] for job in batch) == ["batch", "batch"]
        with pytest.raises(RPCError) as refused:
            client.rpc("job-list.list", {"queue": 7})
        assert refused.value.errno == errno.EPROTO
        assert "queue must be a string" in refused.value.strerror

        summary = client.job(running)
        assert summary["expiration"] == 0.0  # no time limit: no expiration
    instance.corral("cancel", "--all")


def test_max_gives_the_first_jobs_of_the_whole_order(instance):
    """Pending (by priority, then id), then running (newest first), then inactive (most
    recently ended first): ``max`` cuts that order, whichever group the cut falls in."""
    for _ in range(2):
        instance.wait_inactive(instance.submit(SIMULATED, "true"))
    running = [instance.submit("sleep", "300") for _ in range(2)]
    with instance.client() as client:
        for job_id in running:
            client.wait_event(job_id, "start", 20)
    instance.corral("queue", "stop")
    ids = [instance.submit(f"--urgency={urgency}", "true")
           for urgency in ("3", "20", "hold", "20", "9")]
    everyone = int(State.ACTIVE | State.INACTIVE)
    with instance.client() as client:
        until(lambda: len(client.jobs(states=PENDING, userid=-1)) == 5)
        everything = [job["id"] for job in client.jobs(states=everyone, userid=-1)]
        assert len(everything) == 9
        assert everything[:5] == [ids[1], ids[3], ids[4], ids[0], ids[2]]
        assert everything[5:7] == running[::-1]
        for limit in range(1, 11):
            first = [job["id"] for job in client.jobs(states=everyone, userid=-1, limit=limit)]
            assert first == everything[:limit]
    instance.corral("cancel", "--all")


def test_a_running_job_lists_its_expiration(instance):
    job_id = instance.submit("-t", "10m", "sleep", "300")
    with instance.client() as client:
        start = client.wait_event(job_id, "start", 20)["timestamp"]
        expiration = client.job(job_id)["expiration"]
        assert start < expiration <= start + 600 + 1
        client.cancel(job_id)


def test_guests_may_count_every_job_but_list_only_their_own(guest_instance):
    instance = guest_instance()
    instance.submit("--urgency=hold", "true")
    stats = as_guest(instance.uri, lambda client: client.rpc("job-list.job-stats"))
    assert stats["job_states"]["sched"] + stats["job_states"]["priority"] == 1
    with pytest.raises(RPCError) as refused:
        as_guest(instance.uri, lambda client: client.jobs(userid=-1))
    assert refused.value.errno == errno.EPERM


def test_output_tail_reads_only_the_end_of_a_long_output(instance):
    job_id = instance.submit("seq", "1", "200000")
    instance.wait_inactive(job_id)
    with instance.client() as client:
        whole = "".join(text for _stream, text in client.output(job_id))
        assert len(whole) > 1_000_000
        tail = "".join(text for _stream, text in client.output(job_id, tail=1000))
        assert len(tail) == 1000
        assert whole.endswith(tail) and tail.endswith("199999\n200000\n")
        assert "".join(text for _s, text in client.output(job_id, tail=0)) == ""
        with pytest.raises(RPCError) as refused:
            list(client.output(job_id, tail=-1))
        assert refused.value.errno == errno.EPROTO
