"""SQLite (WAL) store with batched commits made off the event loop.

Writes are queued in memory and committed together by one writer thread: while one batch
commits, the next one fills, so an idle instance commits at once and a busy one commits large
batches (group commit).  `after_commit` callbacks run on the event loop once everything
queued before them is on disk; this is how the job manager holds a job, a submit response or
an exec start until the events that justify it are stored.

Reads happen on the event loop through a second connection; WAL lets them run while the
writer commits.  They see only committed data, which is what clients are allowed to see.
"""

import asyncio
import json
import logging
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

from ..jsoncodec import dumps

log = logging.getLogger("corral.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    userid INTEGER NOT NULL,
    t_submit REAL NOT NULL,
    jobspec TEXT NOT NULL,
    R TEXT,
    state INTEGER NOT NULL DEFAULT 1,
    summary TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE TABLE IF NOT EXISTS events (
    job INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    name TEXT NOT NULL,
    context TEXT,
    PRIMARY KEY (job, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_INSERT_JOB = "INSERT INTO jobs (id, userid, t_submit, jobspec) VALUES (?, ?, ?, ?)"
_INSERT_EVENT = "INSERT INTO events (job, seq, timestamp, name, context) VALUES (?, ?, ?, ?, ?)"
_SET_R = "UPDATE jobs SET R = ? WHERE id = ?"
_SET_JOBSPEC = "UPDATE jobs SET jobspec = ? WHERE id = ?"
_SET_FINAL = "UPDATE jobs SET state = ?, summary = ? WHERE id = ?"
_SET_KV = "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)"
_DELETE_KV = "DELETE FROM kv WHERE key = ?"
_DELETE_JOB = "DELETE FROM jobs WHERE id = ?"
_DELETE_EVENTS = "DELETE FROM events WHERE job = ?"


class StoreError(RuntimeError):
    """The store cannot be opened or a commit failed (the instance must stop)."""


class _Batch:
    __slots__ = ("jobs", "events", "r_updates", "jobspec_updates", "finals", "kv", "deletes",
                 "callbacks", "committed_events")

    def __init__(self):
        self.jobs = []
        self.events = []
        self.r_updates = []
        self.jobspec_updates = []
        self.finals = []
        self.kv = {}
        self.deletes = []
        self.callbacks = []
        # (job object, seq) pairs whose commit the job manager wants to hear about
        self.committed_events = []

    def empty(self) -> bool:
        return not (self.jobs or self.events or self.r_updates or self.jobspec_updates
                    or self.finals or self.kv or self.deletes)


class Store:
    """One instance's SQLite database, with batched asynchronous commits.

    Every read fetches all its rows at once: a half-read cursor would hold its WAL snapshot
    open, and later reads on the same connection would never see newer commits.
    """

    def __init__(self, path: str, loop: asyncio.AbstractEventLoop | None = None):
        self.path = path
        self.loop = loop
        try:
            self._reader = self._connect()
            self._reader.executescript(SCHEMA)
            self._reader.commit()
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the job store: {exc}") from None
        self._writer = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="corral-store")
        self._pending = _Batch()
        self._committing = False
        self._scheduled = False
        self._idle = threading.Event()
        self._idle.set()
        self.on_committed = None  # callback(batch.committed_events) set by the job manager
        self.on_failure = None  # callback(exc) set by the instance: a failed commit stops it
        self.failed: Exception | None = None

    def _connect(self):
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (only power loss can drop the last
        # transactions); the job manager's guarantee is about the controller dying.
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=10000")
        return connection

    def attach(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop

    # --- queued writes (event loop thread) --------------------------------------------

    def add_job(self, job_id: int, userid: int, t_submit: float, jobspec_json: str):
        self._pending.jobs.append((job_id, userid, t_submit, jobspec_json))
        self._schedule()

    def append_event(self, job_id: int, seq: int, event: dict, context_json: str | None,
                     notify=None):
        """Queue one eventlog entry; ``notify`` (a job) hears of its commit."""
        batch = self._pending
        batch.events.append((job_id, seq, event["timestamp"], event["name"], context_json))
        if notify is not None:
            batch.committed_events.append((notify, seq, event))
        self._schedule()

    def set_R(self, job_id: int, R_json: str | None):
        self._pending.r_updates.append((R_json, job_id))
        self._schedule()

    def set_jobspec(self, job_id: int, jobspec_json: str):
        self._pending.jobspec_updates.append((jobspec_json, job_id))
        self._schedule()

    def set_final(self, job_id: int, state: int, summary: dict):
        self._pending.finals.append((state, dumps(summary), job_id))
        self._schedule()

    def kv_set(self, key: str, value):
        self._pending.kv[key] = dumps(value)
        self._schedule()

    def delete_job(self, job_id: int):
        self._pending.deletes.append((job_id,))
        self._schedule()

    def after_commit(self, callback):
        """Run ``callback()`` on the loop once everything queued so far is committed."""
        batch = self._pending
        if batch.empty() and not self._committing:
            self.loop.call_soon(callback)
            return
        batch.callbacks.append(callback)
        self._schedule()

    def _schedule(self):
        if not self._scheduled and not self._committing:
            self._scheduled = True
            self._idle.clear()
            self.loop.call_soon(self._start_commit)

    def _start_commit(self):
        self._scheduled = False
        if self._committing or self.failed:
            return
        batch, self._pending = self._pending, _Batch()
        if batch.empty():
            for callback in batch.callbacks:
                callback()
            self._idle.set()
            return
        self._committing = True
        future = self.loop.run_in_executor(self._executor, self._write, batch)
        future.add_done_callback(lambda f: self._commit_done(batch, f))

    def _write(self, batch: _Batch):
        if self._writer is None:
            self._writer = self._connect()
        db = self._writer
        db.execute("BEGIN")
        try:
            if batch.jobs:
                db.executemany(_INSERT_JOB, batch.jobs)
            if batch.events:
                db.executemany(_INSERT_EVENT, batch.events)
            if batch.r_updates:
                db.executemany(_SET_R, batch.r_updates)
            if batch.jobspec_updates:
                db.executemany(_SET_JOBSPEC, batch.jobspec_updates)
            if batch.finals:
                db.executemany(_SET_FINAL, batch.finals)
            if batch.kv:
                db.executemany(_SET_KV, [(k, v) for k, v in batch.kv.items() if v is not None])
                db.executemany(_DELETE_KV, [(k,) for k, v in batch.kv.items() if v is None])
            if batch.deletes:
                db.executemany(_DELETE_EVENTS, batch.deletes)
                db.executemany(_DELETE_JOB, batch.deletes)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _commit_done(self, batch: _Batch, future):
        self._committing = False
        exc = future.exception()
        if exc is not None:
            self.failed = exc
            log.critical("job store commit failed: %s", exc)
            if self.on_failure is not None:
                self.on_failure(exc)
            return
        if batch.committed_events and self.on_committed is not None:
            self.on_committed(batch.committed_events)
        for callback in batch.callbacks:
            callback()
        if self._pending.empty() and not self._pending.callbacks:
            self._idle.set()
        else:
            self._start_commit()

    async def flush(self):
        """Wait until everything queued so far is committed."""
        done = self.loop.create_future()
        self.after_commit(lambda: done.done() or done.set_result(None))
        await done

    def close(self):
        """Stop the writer (after `flush`) and close both connections."""
        self._executor.shutdown(wait=True)
        if self._writer is not None:
            self._executor = None
            self._writer.close()
            self._writer = None
        self._reader.close()

    # --- reads (event loop thread, committed data only) -------------------------------

    def events(self, job_id: int, limit_seq: int | None = None) -> list[dict]:
        """The committed eventlog of one job, oldest first (``seq < limit_seq`` if given)."""
        if limit_seq is None:
            rows = self._reader.execute(
                "SELECT timestamp, name, context FROM events WHERE job = ? ORDER BY seq",
                (job_id,),
            ).fetchall()
        else:
            rows = self._reader.execute(
                "SELECT timestamp, name, context FROM events WHERE job = ? AND seq < ? "
                "ORDER BY seq",
                (job_id, limit_seq),
            ).fetchall()
        return [_event(row) for row in rows]

    def job_row(self, job_id: int):
        """``(userid, t_submit, jobspec, R, state, summary)`` decoded, or None."""
        rows = self._reader.execute(
            "SELECT userid, t_submit, jobspec, R, state, summary FROM jobs WHERE id = ?",
            (job_id,),
        ).fetchall()
        if not rows:
            return None
        userid, t_submit, jobspec, R, state, summary = rows[0]
        return (
            userid,
            t_submit,
            json.loads(jobspec),
            json.loads(R) if R else None,
            state,
            json.loads(summary) if summary else None,
        )

    def active_jobs(self):
        """Yield ``(id, userid, t_submit, jobspec, R, events)`` for every job not INACTIVE."""
        jobs = self._reader.execute(
            "SELECT id, userid, t_submit, jobspec, R FROM jobs WHERE state != 64 ORDER BY id"
        ).fetchall()
        for job_id, userid, t_submit, jobspec, R in jobs:
            yield (job_id, userid, t_submit, json.loads(jobspec),
                   json.loads(R) if R else None, self.events(job_id))

    def inactive_summaries(self):
        """Yield ``(id, summary)`` for every INACTIVE job, oldest first."""
        rows = self._reader.execute(
            "SELECT id, summary FROM jobs WHERE state = 64 ORDER BY id"
        ).fetchall()
        for job_id, summary in rows:
            yield job_id, json.loads(summary)

    def kv_get(self, key: str, default=None):
        rows = self._reader.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchall()
        return json.loads(rows[0][0]) if rows else default

def _event(row) -> dict:
    timestamp, name, context = row
    if context:
        return {"timestamp": timestamp, "name": name, "context": json.loads(context)}
    return {"timestamp": timestamp, "name": name}
