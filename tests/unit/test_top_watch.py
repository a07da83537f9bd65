"""``corral top``'s refresh asks only for what changed: ended jobs ``since`` the newest one
seen, each counted once, for one minute."""

import time

from corral.cli import top_watch


class RecordingClient:
    """Answers the five requests of a refresh; ``ended`` is what the ``since`` listing
    returns next.  Keeps every request sent."""

    def __init__(self):
        self.sent = []
        self.ended = []

    def send(self, topic, payload=None):
        self.sent.append((topic, payload))
        return len(self.sent)

    def answer(self, tag):
        topic, payload = self.sent[tag - 1]
        if topic == "resource.list":
            return {"nodes": []}
        if topic == "job-list.job-stats":
            return {"job_states": {}, "queues": []}
        if payload.get("since") is not None:
            return {"jobs": [{"id": i, "t_inactive": t} for i, t in self.ended]}
        return {"jobs": []}


def since_asked(client) -> float:
    return [payload for topic, payload in client.sent if payload and "since" in payload][-1][
        "since"]


def test_ended_jobs_are_fetched_since_the_last_seen_and_counted_once():
    client = RecordingClient()
    watch = top_watch.Watch(client)
    now = time.time()
    client.ended = [(1, now - 90), (2, now - 30), (3, now - 1)]  # 1 is older than a minute
    watch.refresh()
    assert now - 61 < since_asked(client) <= now - 59
    assert watch.throughput() == 2.0
    # The instance returns jobs ended at the boundary again: 3 is not counted twice.
    client.ended = [(3, now - 1), (4, now)]
    watch.refresh()
    assert since_asked(client) == now - 1
    assert watch.throughput() == 3.0
    assert all(payload.get("max") in (None, top_watch.JOB_LIMIT)
               for topic, payload in client.sent if topic == "job-list.list")


def test_a_new_filter_counts_the_throughput_again():
    client = RecordingClient()
    watch = top_watch.Watch(client)
    client.ended = [(1, time.time())]
    watch.refresh()
    assert watch.throughput() == 1.0
    watch.show(1234, "debug")
    client.ended = []
    watch.refresh()
    assert watch.throughput() == 0.0
    listing = [payload for topic, payload in client.sent if topic == "job-list.list"][-3:]
    assert all(p["userid"] == 1234 and p["queue"] == "debug" for p in listing)
