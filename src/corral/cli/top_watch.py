"""What ``corral top`` knows of the instance, brought up to date once per refresh.

A refresh must cost the same with 100 jobs in the instance as with 100,000, so it never asks
for the whole history: job counts come from ``job-list.job-stats``; the queue and the running
jobs from ``job-list.list`` with ``max`` (the instance orders only that many); the jobs that
ended come ``since`` the newest one already seen, and are kept one minute, for the
throughput.  Nodes come from ``resource.list`` (one small record each).
"""

import collections
import errno
import os
import time

from ..client import RPCError
from ..states import State

#: How many pending and how many running jobs one refresh asks for: more than any screen
#: shows, so that sorting and scrolling have something to work on.
JOB_LIMIT = 200

#: How much of the end of each output stream an open job's view reads (its last lines),
#: whatever the output's size.
OUTPUT_TAIL_BYTES = 65536

#: Throughput is counted over this many seconds.
THROUGHPUT_WINDOW = 60.0

_PENDING = int(State.DEPEND | State.PRIORITY | State.SCHED)
_RUNNING = int(State.RUN | State.CLEANUP)


class Watch:
    """The latest nodes, counts, jobs and completions; ``userid`` (-1: everyone) and
    ``queue`` (None: every queue) filter the job lists."""

    def __init__(self, client, userid: int = -1, queue: str | None = None):
        self.client = client
        self.userid = userid
        self.queue = queue
        self.nodes: list[dict] = []
        self.stats: dict = {}
        self.pending: list[dict] = []
        self.running: list[dict] = []
        #: (t_inactive, id) of the jobs that ended in the last `THROUGHPUT_WINDOW` seconds.
        self.ended = collections.deque()
        self._ended_ids: set[int] = set()
        self._since = time.time() - THROUGHPUT_WINDOW

    def show(self, userid: int, queue: str | None):
        """Filter by ``userid`` and ``queue`` from the next refresh on; the throughput is
        counted again, over the last minute of the jobs now shown."""
        self.userid = userid
        self.queue = queue
        self.ended.clear()
        self._ended_ids.clear()
        self._since = time.time() - THROUGHPUT_WINDOW

    def refresh(self):
        """Ask the instance for what changed; the requests are pipelined (one round trip)."""
        client = self.client
        filters = {"userid": self.userid}
        if self.queue is not None:
            filters["queue"] = self.queue
        tags = [
            client.send("resource.list"),
            client.send("job-list.job-stats"),
            client.send("job-list.list", dict(filters, states=_PENDING, max=JOB_LIMIT)),
            client.send("job-list.list", dict(filters, states=_RUNNING, max=JOB_LIMIT)),
            client.send("job-list.list",
                        dict(filters, states=int(State.INACTIVE), since=self._since)),
        ]
        nodes, stats, pending, running, ended = (client.answer(tag) for tag in tags)
        self.nodes = nodes["nodes"]
        self.stats = stats
        self.pending = pending["jobs"]
        self.running = running["jobs"]
        self._note_ended(ended["jobs"])

    def _note_ended(self, jobs):
        for job in sorted(jobs, key=lambda job: job["t_inactive"] or 0):
            if job["id"] in self._ended_ids:
                continue
            self._ended_ids.add(job["id"])
            self.ended.append((job["t_inactive"] or 0, job["id"]))
        if self.ended:
            # Jobs that end within one timestamp of the last seen come again: the ids say
            # which were counted already.
            self._since = self.ended[-1][0]
        cutoff = time.time() - THROUGHPUT_WINDOW
        while self.ended and self.ended[0][0] < cutoff:
            self._ended_ids.discard(self.ended.popleft()[1])

    def throughput(self) -> float:
        """Jobs ended per minute, over the last minute (asked for from the first refresh on,
        so it is right from the start)."""
        return len(self.ended) * 60.0 / THROUGHPUT_WINDOW

    def job_detail(self, job_id: int, lines: int = 200) -> tuple[dict, list[dict], list[str]]:
        """One job's summary, eventlog and the last ``lines`` lines of its output."""
        client = self.client
        job = client.job(job_id)
        events = client.eventlog(job_id)
        tail = collections.deque(maxlen=lines)
        partial = {"stdout": "", "stderr": ""}
        try:
            for stream, text in client.output(job_id, tail=OUTPUT_TAIL_BYTES):
                *complete, partial[stream] = (partial.get(stream, "") + text).split("\n")
                tail.extend(_labelled(stream, line) for line in complete)
        except RPCError as exc:
            tail.append(f"(no output: {exc.strerror or exc})")
        tail.extend(_labelled(stream, text) for stream, text in partial.items() if text)
        return job, events, list(tail)


def _labelled(stream: str, line: str) -> str:
    return line if stream == "stdout" else f"{stream}: {line}"


def default_userid(client) -> int:
    """-1 (every user) if this user may list everyone's jobs, else their own uid."""
    try:
        client.rpc("job-list.list", {"userid": -1, "max": 1})
    except RPCError as exc:
        if exc.errno == errno.EPERM:
            return os.getuid()
        raise
    return -1
