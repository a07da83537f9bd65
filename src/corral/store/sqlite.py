"""SQLite (WAL) store with batched commits that never keep the event loop waiting for a sync.

Writes are queued in memory and committed together once the loop has nothing else ready
(`corral.idle`), so an idle instance commits at once and a busy one commits large batches
(group commit).  `after_commit` callbacks run on the event loop once everything queued
before them is on disk; this is how the job manager holds a job, a submit response or an
exec start until the events that justify it are stored.

Where a commit runs is chosen by how long commits take.  In WAL mode with
``synchronous=NORMAL`` a commit appends to the log without syncing it: a busy instance's
batch of a few jobs' events takes a few hundred microseconds.  That is done on the loop,
since handing it to a thread costs more (two wake-ups and the interpreter lock, which the
writer and the loop take in turns for every statement).  What syncs, the checkpoint that
copies the log into the database, runs on the writer thread, on a connection of its own,
never in a commit.  A large batch (`LARGE_BATCH` rows, a submission of many jobs) is
committed on the writer thread: SQLite lets go of the interpreter lock while it writes, so
the loop goes on meanwhile.  A commit that takes longer than `SLOW_COMMIT` and longer than
its rows account for (`SLOW_ROW` each), as on a disk that stalls writes, sends the next
`QUICK_COMMITS_TO_RETURN` commits to the writer thread, where the loop goes on while they
wait; the one after them tries the loop again.

Reads happen on the event loop through a second connection; WAL lets them run while the
writer commits.  They see only committed data, which is what clients are allowed to see.
A simulation's store is a throw-away one (see `Store`): one connection, its batches written
together, few commits.

Space: a job's environment is most of its jobspec and jobs of one submission share most of
it, so environments are stored once in their own table (`environments`), each job row naming
its base and holding the few variables of its own; readers get the jobspec back whole.  The
database runs with ``auto_vacuum=INCREMENTAL``: after a purge the pages it freed are given
back to the file system in small steps on the writer thread, between commits, never on the
event loop.  A store written before these existed is converted once when it is opened
(`_migrate`).

A commit that fails never stops the instance silently.  When the cause comes and goes with
the machine (a full disk, an I/O error, a locked or read-only file) the batch is kept in
memory, retried every second, and `unavailable` says why, so that new work is refused until a
commit succeeds again.  A row SQLite cannot take (a string it cannot encode, a duplicate key)
is dropped alone, with a log line naming its job, and the rest of its batch is committed.
Anything else (a corrupt database) is logged with its cause and stops the instance with a
non-zero exit status (`on_failure`).
"""

import asyncio
import errno
import json
import logging
import os
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

from .. import idle
from ..jsoncodec import dumps
from ..timings import Timings
from .environments import EnvironmentSplitter, join

log = logging.getLogger("corral.store")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    userid INTEGER NOT NULL,
    t_submit REAL NOT NULL,
    jobspec TEXT NOT NULL,
    R TEXT,
    state INTEGER NOT NULL DEFAULT 1,
    summary TEXT,
    environment_key BLOB,
    environment_own TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_environment ON jobs(environment_key)
    WHERE environment_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS environments (
    key BLOB PRIMARY KEY,
    environment TEXT NOT NULL
) WITHOUT ROWID;
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

#: ``PRAGMA user_version`` of the current layout: 1 added the environments table and
#: incremental vacuum.
SCHEMA_VERSION = 1

_INSERT_JOB = ("INSERT INTO jobs (id, userid, t_submit, jobspec, environment_key, "
               "environment_own) VALUES (?, ?, ?, ?, ?, ?)")
_INSERT_ENVIRONMENT = "INSERT OR IGNORE INTO environments (key, environment) VALUES (?, ?)"
_JOB_ENVIRONMENT = "SELECT environment_key FROM jobs WHERE id = ?"
_DELETE_UNUSED_ENVIRONMENT = ("DELETE FROM environments WHERE key = ?1 AND NOT EXISTS "
                              "(SELECT 1 FROM jobs WHERE environment_key = ?1)")
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


#: Incremental vacuum: pages given back per step (4 KiB each), and the pause between steps
#: (commits queued meanwhile go first).
VACUUM_STEP_PAGES = 256
VACUUM_PAUSE = 0.01

#: SQLite primary result codes of causes that pass (busy, locked, read-only, I/O error,
#: cannot open, disk full): the batch is kept and committed again later.
_PASSING_CAUSES = {5: "SQLITE_BUSY", 6: "SQLITE_LOCKED", 8: "SQLITE_READONLY",
                   10: "SQLITE_IOERR", 13: "SQLITE_FULL", 14: "SQLITE_CANTOPEN"}
_SQLITE_FULL = 13

#: Errors one row causes (SQLite cannot encode or accept it); the rest of its batch is kept.
_ROW_ERRORS = (UnicodeError, sqlite3.IntegrityError, sqlite3.InterfaceError, OverflowError,
               ValueError)

#: Seconds between attempts to commit a kept batch.
RETRY_INTERVAL = 1.0

#: Seconds a commit may take on the event loop, and seconds a row of it may take (a large
#: batch, a submission of a thousand jobs, takes longer for its rows, not for the disk);
#: after a commit slower than both, this many commits run on the writer thread before the
#: loop is tried again.
SLOW_COMMIT = 0.005
SLOW_ROW = 0.00005
#: Rows from which a batch is committed on the writer thread all the same (the hand-off
#: is then worth what the loop does meanwhile).
LARGE_BATCH = 512
QUICK_COMMITS_TO_RETURN = 64
#: Seconds from a commit to the checkpoint after it (one at a time, on the writer thread).
CHECKPOINT_DELAY = 1.0

#: Batches a throw-away store holds before it writes them, in one transaction.
THROWAWAY_BATCHES_PER_COMMIT = 1000
#: The fields of `_Batch` that are lists of rows.
_ROW_LISTS = ("environments", "jobs", "events", "r_updates", "jobspec_updates", "finals",
              "deletes")


class _Batch:
    __slots__ = ("environments", "jobs", "events", "r_updates", "jobspec_updates", "finals",
                 "kv", "deletes", "callbacks", "committed_events")

    def __init__(self):
        self.environments = []
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

    def rows(self) -> int:
        return sum(len(getattr(self, name)) for name in _ROW_LISTS) + len(self.kv)

    def after(self, earlier: "_Batch") -> "_Batch":
        """This batch with a failed ``earlier`` one before it (writes keep their order)."""
        for name in self.__slots__:
            mine, theirs = getattr(self, name), getattr(earlier, name)
            setattr(self, name, {**theirs, **mine} if isinstance(mine, dict) else theirs + mine)
        return self


class _RowByRow:
    """The writer connection, running each statement one row at a time and dropping (with
    a log line) the rows SQLite refuses, so one bad row does not lose its whole batch."""

    def __init__(self, connection):
        self.connection = connection

    def execute(self, sql, parameters=()):
        return self.connection.execute(sql, parameters)

    def executemany(self, sql, rows):
        for row in rows:
            try:
                self.connection.execute(sql, row)
            except _ROW_ERRORS as exc:
                log.error("job store: dropped a write SQLite refused (%s: %s): %s",
                          type(exc).__name__, exc, _describe_row(sql, row))


class Store:
    """One instance's SQLite database, with batched asynchronous commits.

    Every read fetches all its rows at once: a half-read cursor would hold its WAL snapshot
    open, and later reads on the same connection would never see newer commits.
    """

    def __init__(self, path: str, loop: asyncio.AbstractEventLoop | None = None, *,
                 on_committed=None, on_failure=None, throwaway=False):
        """``on_committed(events)`` gets the ``(job, seq, event)`` of each committed batch (the
        job manager's watchers); ``on_failure(exc)`` is told of a commit that can never
        succeed (the instance stops).

        A ``throwaway`` store is one that only this process reads and that need survive no
        crash, only a `close` (a simulation's, whose commits run on the loop's thread):
        reads and writes share one connection, and the batches are held in memory and
        written together, in one transaction, every `THROWAWAY_BATCHES_PER_COMMIT` batches,
        before any read (so reads see everything written) and at `close`.  A simulation's
        batches are small (a job makes four or five), and what a small batch costs is
        mostly its transaction and one call into SQLite per statement, not its rows."""
        self.path = path
        self.loop = loop
        self.throwaway = throwaway
        try:
            self._reader = self._connect()
            _migrate(self._reader, path)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the job store: {exc}") from None
        self._writer = self._reader if throwaway else None
        #: A throw-away store's batches not yet written, as one, and how many they are.
        self._held = _Batch()
        self._batches_held = 0
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="corral-store")
        self._pending = _Batch()
        self._committing = False  # a commit or a vacuum step has the writer connection
        self._scheduled = False
        #: Commits still to go on the writer thread before they return to the loop (0:
        #: they run on the loop).
        self._in_thread = 0
        self._slow_seen = False  # a slow commit was logged as a warning (once)
        self._checkpointer = None  # the writer thread's connection for checkpoints
        self._checkpoint_timer = None
        self.on_committed = on_committed
        self.on_failure = on_failure
        self.failed: Exception | None = None
        self._vacuum_requested = False
        self._vacuum_timer = None
        self._vacuuming = False  # a vacuum step has the writer connection, on its thread
        # Why commits fail for now (None while they succeed): new work is refused meanwhile.
        self.unavailable: str | None = None
        self.unavailable_errno = 0
        self._retry = None  # the timer of the next attempt while unavailable
        self.commit_timings = Timings()  # each batch's transaction

    def _connect(self):
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # Takes effect only in a new database, and only before anything (even the switch to
        # WAL) writes to it; an older store is converted by `_migrate`.
        connection.execute("PRAGMA auto_vacuum=INCREMENTAL")
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (only power loss can drop the last
        # transactions); the job manager's guarantee is about the controller dying.
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=10000")
        return connection

    def _connect_writer(self):
        """The connection commits go through: it never checkpoints (`_checkpoint` does,
        on the writer thread)."""
        connection = self._connect()
        connection.execute("PRAGMA wal_autocheckpoint=0")
        return connection

    def attach(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop

    # --- queued writes (event loop thread) --------------------------------------------

    def add_environment(self, key: bytes, text: str):
        """Queue storing a base environment (`EnvironmentSplitter.store_base`)."""
        self._pending.environments.append((key, text))

    def add_job(self, job_id: int, userid: int, t_submit: float, jobspec_json: str,
                environment_key: bytes | None = None, environment_own: dict | None = None):
        """Queue a new job: its jobspec without the environment, the key of its base
        environment (stored by `add_environment` in this batch or before) and its own
        variables (`store.environments`)."""
        own = dumps(environment_own) if environment_own else None
        self._pending.jobs.append((job_id, userid, t_submit, jobspec_json, environment_key,
                                   own))
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
        """The job's current jobspec, without its environment (which stays as stored)."""
        self._pending.jobspec_updates.append((jobspec_json, job_id))
        self._schedule()

    def set_final(self, job_id: int, state: int, summary: dict):
        self._pending.finals.append((state, dumps(summary), job_id))
        self._schedule()

    def kv_set(self, key: str, value):
        self._pending.kv[key] = dumps(value)
        self._schedule()

    def delete_job(self, job_id: int):
        """Queue removing a job for good; once that is committed, the space it held is given
        back to the file system in steps (`_vacuum_step`)."""
        self._pending.deletes.append((job_id,))
        self._schedule()
        if not self._vacuum_requested and not self.throwaway:
            self._vacuum_requested = True
            self.after_commit(self._vacuum_soon)

    def after_commit(self, callback):
        """Run ``callback()`` on the loop once everything queued so far is committed."""
        batch = self._pending
        if batch.empty() and not self._committing:
            self.loop.call_soon(callback)
            return
        batch.callbacks.append(callback)
        self._schedule()

    def _schedule(self):
        if not self._scheduled and not self._committing and not self._vacuuming \
                and self._retry is None:
            self._scheduled = True
            idle.when_idle(self.loop, self._start_commit)

    def _start_commit(self):
        self._scheduled = False
        if self._committing or self._vacuuming or self.failed:
            return
        batch, self._pending = self._pending, _Batch()
        if batch.empty():
            _run_callbacks(batch.callbacks)
            return
        self._committing = True
        if self.throwaway or not self._in_thread and batch.rows() < LARGE_BATCH:
            # Holding a batch (a throw-away store's) is a few list extensions, and its
            # outcome is handled at the loop's next turn, as a simulation has always seen
            # it; a commit appends to the log, and its callbacks run at once.
            try:
                took = self._commit(batch)
                outcome = None
            except Exception as exc:
                outcome = exc
            if self.throwaway:
                self.loop.call_soon(self._commit_done, batch, outcome)
                return
            if outcome is None:
                self._judge(batch, took)
            self._commit_done(batch, outcome)
            return
        if self._in_thread:
            self._in_thread -= 1
        future = self.loop.run_in_executor(self._executor, self._commit, batch)
        future.add_done_callback(lambda f: self._commit_done(batch, f.exception()))

    def _commit(self, batch: _Batch) -> float:
        """Commit a batch (on the loop, or on the writer thread when it is large or while
        commits are slow); a throw-away store's is held (`_hold`).  The seconds it took."""
        started = time.perf_counter()
        if self.throwaway:
            self._hold(batch)
        else:
            self._write_dropping_refused(batch)
        took = time.perf_counter() - started
        self.commit_timings.observe(took)
        return took

    def _judge(self, batch: _Batch, took: float):
        """After a commit on the loop (on the writer thread, a commit's time is also the
        time it waited for the interpreter lock, and says nothing of the disk): if it was
        slow, the next `QUICK_COMMITS_TO_RETURN` go to the writer thread, and the one after
        them tries the loop again."""
        if took > SLOW_COMMIT and took > SLOW_ROW * batch.rows():
            (log.debug if self._slow_seen else log.warning)(
                "job store: a commit to %s took %.0f ms; the next %d commits go to the "
                "writer thread", self.path, took * 1000, QUICK_COMMITS_TO_RETURN)
            self._slow_seen = True
            self._in_thread = QUICK_COMMITS_TO_RETURN

    def _write_dropping_refused(self, batch: _Batch):
        """Write a batch; if a row is refused, again without such rows."""
        try:
            self._write(batch)
        except _ROW_ERRORS as exc:
            log.error("job store: a batch of writes was refused (%s: %s); committing it "
                      "again without the rows SQLite refuses", type(exc).__name__, exc)
            self._write(batch, row_by_row=True)

    def _hold(self, batch: _Batch):
        """Add a batch to what a throw-away store holds, and write that when it is enough.
        Writes of one table keep their order, and the tables are written in the order a
        batch's are, so the rows stored are those the batches one by one would store."""
        held = self._held
        for name in _ROW_LISTS:
            rows = getattr(batch, name)
            if rows:
                getattr(held, name).extend(rows)
        if batch.kv:
            held.kv.update(batch.kv)
        self._batches_held += 1
        if self._batches_held >= THROWAWAY_BATCHES_PER_COMMIT:
            self._write_held()

    def _write_held(self):
        """Write and commit what a throw-away store holds; if that fails, it is lost, and
        nothing can be kept to try again (its after-commit callbacks have run)."""
        batch, self._held = self._held, _Batch()
        self._batches_held = 0
        if batch.empty():
            return
        try:
            self._write_dropping_refused(batch)
        except sqlite3.Error as exc:
            raise StoreError(f"the batches written since the last commit are lost: "
                             f"{exc}") from None

    def _readable(self):
        """The connection reads go through, once a throw-away store has written what it
        holds."""
        if self._batches_held:
            self._write_held()
        return self._reader

    def _write(self, batch: _Batch, row_by_row=False, connection=None):
        if connection is None:
            if self._writer is None:
                self._writer = self._connect_writer()
            connection = self._writer
        db = _RowByRow(connection) if row_by_row else connection
        db.execute("BEGIN")
        try:
            if batch.environments:
                db.executemany(_INSERT_ENVIRONMENT, batch.environments)
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
                environments = {db.execute(_JOB_ENVIRONMENT, job).fetchone()
                                for job in batch.deletes}
                db.executemany(_DELETE_EVENTS, batch.deletes)
                db.executemany(_DELETE_JOB, batch.deletes)
                db.executemany(_DELETE_UNUSED_ENVIRONMENT,
                               [row for row in environments if row and row[0] is not None])
            db.execute("COMMIT")
        except BaseException:
            # A failed COMMIT may have ended the transaction already; a failing ROLLBACK
            # must not hide the error that matters.
            try:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
            except sqlite3.Error as rollback_error:
                log.debug("job store: rollback failed too: %s", rollback_error)
            raise

    def _commit_done(self, batch: _Batch, exc: BaseException | None):
        self._committing = False
        if exc is not None:
            self._commit_failed(batch, exc)
            return
        if self.unavailable is not None:
            log.warning("job store: commits to %s succeed again; new work is accepted",
                        self.path)
            self.unavailable = None
            self.unavailable_errno = 0
        if batch.committed_events and self.on_committed is not None:
            self.on_committed(batch.committed_events)
        if not self.throwaway and self._checkpoint_timer is None:
            self._checkpoint_timer = self.loop.call_later(CHECKPOINT_DELAY,
                                                          self._start_checkpoint)
        _run_callbacks(batch.callbacks)
        if not self._pending.empty() or self._pending.callbacks:
            self._schedule()

    def _commit_failed(self, batch: _Batch, exc: BaseException):
        """Keep the batch and retry if the cause passes; otherwise stop the instance."""
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code in _PASSING_CAUSES:
            if code == _SQLITE_FULL:
                reason = (f"the disk holding {os.path.dirname(self.path)} is full "
                          f"({exc})")
            else:
                reason = f"{exc} ({_PASSING_CAUSES[code]})"
            if self.unavailable != reason:
                log.error("job store: cannot commit to %s: %s; keeping the writes not yet "
                          "stored and trying again every %.0f s; new work is refused until "
                          "a commit succeeds", self.path, reason, RETRY_INTERVAL)
            self.unavailable = reason
            self.unavailable_errno = errno.ENOSPC if code == _SQLITE_FULL else errno.EIO
            self._pending = self._pending.after(batch)
            self._retry = self.loop.call_later(RETRY_INTERVAL, self._retry_commit)
            return
        self.failed = exc
        log.critical("job store: commit to %s failed: %s: %s; the instance stops", self.path,
                     type(exc).__name__, exc, exc_info=exc)
        if self.on_failure is not None:
            self.on_failure(exc)

    def _retry_commit(self):
        self._retry = None
        self._start_commit()

    def commit_queued_now(self):
        """Commit what is queued, from the calling thread on a connection of its own: the
        event loop is stuck and the instance stops without it (see `corral.watchdog`)."""
        batch, self._pending = self._pending, _Batch()
        if batch.empty():
            return
        connection = self._connect()
        try:
            self._write(batch, row_by_row=True, connection=connection)
        finally:
            connection.close()

    @property
    def queued_writes(self) -> int:
        """How many rows wait to be committed (what a stop would lose while unavailable)."""
        pending = self._pending
        return sum(len(getattr(pending, name)) for name in _Batch.__slots__
                   if name not in ("callbacks", "committed_events"))

    async def flush(self):
        """Wait until everything queued so far is committed."""
        done = self.loop.create_future()
        self.after_commit(lambda: done.done() or done.set_result(None))
        await done

    # --- incremental vacuum (pages freed by purges go back to the file system) ----------

    def _vacuum_soon(self):
        self._vacuum_requested = False
        if self._vacuum_timer is None and self._executor is not None and not self.failed:
            self._vacuum_timer = self.loop.call_later(VACUUM_PAUSE, self._start_vacuum_step)

    def _start_vacuum_step(self):
        """One step on the writer thread (so after any commit already submitted to it);
        commits wait for it, since it uses their connection."""
        self._vacuuming = True
        future = self.loop.run_in_executor(self._executor, self._vacuum_step)
        future.add_done_callback(self._vacuum_step_done)

    def _vacuum_step(self) -> bool:
        """Give back at most `VACUUM_STEP_PAGES` free pages; whether any are left."""
        db = self._writer
        # executescript steps the pragma to its end (one execute() frees a single page).
        db.executescript(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES});")
        if db.execute("PRAGMA freelist_count").fetchone()[0]:
            return True
        # Done: copy the log into the file, which shrinks the file, and empty the log, which
        # the pages just moved had grown (reads are short, so this waits little).
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return False

    def _vacuum_step_done(self, future):
        self._vacuum_timer = None
        self._vacuuming = False
        exc = future.exception()
        if exc is not None:
            log.warning("job store: giving back free space failed: %s", exc)
        elif future.result():
            self._vacuum_soon()
        if not self._pending.empty() or self._pending.callbacks:
            self._schedule()

    # --- checkpoints (the log copied into the database, which syncs it) -----------------

    def _start_checkpoint(self):
        """A checkpoint on the writer thread; the timer stays set until it is done, so
        that one runs at a time."""
        future = self.loop.run_in_executor(self._executor, self._checkpoint)
        future.add_done_callback(self._checkpoint_done)

    def _checkpoint(self):
        """Copy what the log holds into the database, as far as readers let it (PASSIVE:
        neither readers nor the writer wait for it)."""
        if self._checkpointer is None:
            self._checkpointer = self._connect()
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _checkpoint_done(self, future):
        self._checkpoint_timer = None
        exc = future.exception()
        if exc is not None:
            log.warning("job store: checkpoint of %s failed: %s", self.path, exc)

    def close(self):
        """Stop the writer (after `flush`) and close both connections."""
        if self._vacuum_timer is not None:
            self._vacuum_timer.cancel()
            self._vacuum_timer = None
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._checkpoint_timer is not None:
            self._checkpoint_timer.cancel()
            self._checkpoint_timer = None
        self._executor.shutdown(wait=True)
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        try:
            if self._writer is not None:
                self._executor = None
                if self._writer is not self._reader:
                    self._writer.close()
                elif not self.failed:
                    self._write_held()
                self._writer = None
        finally:
            self._reader.close()

    # --- reads (event loop thread, committed data only; a throw-away store's: written) ---

    def events(self, job_id: int, limit_seq: int | None = None) -> list[dict]:
        """The committed eventlog of one job, oldest first (``seq < limit_seq`` if given)."""
        if limit_seq is None:
            rows = self._readable().execute(
                "SELECT timestamp, name, context FROM events WHERE job = ? ORDER BY seq",
                (job_id,),
            ).fetchall()
        else:
            rows = self._readable().execute(
                "SELECT timestamp, name, context FROM events WHERE job = ? AND seq < ? "
                "ORDER BY seq",
                (job_id, limit_seq),
            ).fetchall()
        return [_event(row) for row in rows]

    def job_row(self, job_id: int):
        """``(userid, t_submit, jobspec, R, state, summary)`` decoded, or None; the jobspec
        with its environment."""
        rows = self._readable().execute(
            "SELECT userid, t_submit, jobspec, R, state, summary, environment, environment_own "
            "FROM jobs LEFT JOIN environments ON environments.key = jobs.environment_key "
            "WHERE id = ?",
            (job_id,),
        ).fetchall()
        if not rows:
            return None
        userid, t_submit, jobspec, R, state, summary, base, own = rows[0]
        spec = json.loads(jobspec)
        if base is not None:
            _put_environment(spec, join(json.loads(base), json.loads(own) if own else None))
        return (
            userid,
            t_submit,
            spec,
            json.loads(R) if R else None,
            state,
            json.loads(summary) if summary else None,
        )

    def active_jobs(self):
        """Yield ``(id, userid, t_submit, jobspec, R, events)`` for every job not INACTIVE,
        the jobspec with its environment (jobs with none of their own share their base's); a
        job whose rows are not valid JSON comes with ``jobspec`` None and no events."""
        jobs = self._readable().execute(
            "SELECT id, userid, t_submit, jobspec, R, environment_key, environment_own FROM jobs "
            "WHERE state != 64 ORDER BY id"
        ).fetchall()
        bases = {}
        for job_id, userid, t_submit, jobspec, R, key, own in jobs:
            try:
                spec = json.loads(jobspec)
                if key is not None:
                    if key not in bases:
                        bases[key] = self._environment(key)
                    _put_environment(spec, join(bases[key], json.loads(own) if own else None))
                decoded = (spec, json.loads(R) if R else None, self.events(job_id))
            except (TypeError, ValueError, LookupError) as exc:
                log.error("job store: job %d: stored rows cannot be read: %s", job_id, exc)
                decoded = (None, None, [])
            yield (job_id, userid, t_submit, *decoded)

    def next_seq(self, job_id: int) -> int:
        """The sequence number the job's next event gets (what is stored, readable or not)."""
        return self._readable().execute(
            "SELECT COALESCE(MAX(seq) + 1, 0) FROM events WHERE job = ?", (job_id,)
        ).fetchall()[0][0]

    def _environment(self, key: bytes) -> dict:
        rows = self._readable().execute(
            "SELECT environment FROM environments WHERE key = ?", (key,)).fetchall()
        return json.loads(rows[0][0])

    def inactive_summaries(self):
        """Yield ``(id, summary)`` for every INACTIVE job, oldest first."""
        rows = self._readable().execute(
            "SELECT id, summary FROM jobs WHERE state = 64 ORDER BY id"
        ).fetchall()
        for job_id, summary in rows:
            yield job_id, json.loads(summary)

    def kv_get(self, key: str, default=None):
        rows = self._readable().execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchall()
        return json.loads(rows[0][0]) if rows else default


def _put_environment(spec: dict, environment: dict):
    spec.setdefault("attributes", {}).setdefault("system", {})["environment"] = environment


def _migrate(db, path: str):
    """Create the tables of a new store, or bring an older one to `SCHEMA_VERSION`.

    A store from before version 1 has each job's environment inside its jobspec and no
    incremental vacuum: the environments move to their table (each stored once) and the file
    is rebuilt once (VACUUM) with ``auto_vacuum=INCREMENTAL``, which gives back what the
    inline copies took.  This takes a while for a large store, once.
    """
    if db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'jobs'").fetchall():
        db.executescript(SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return
    log.warning("%s: converting the job store to version %d (environments stored once, "
                "purged space given back); this is done once", path, SCHEMA_VERSION)
    columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    for column, kind in (("environment_key", "BLOB"), ("environment_own", "TEXT")):
        if column not in columns:
            db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
    db.executescript(SCHEMA)
    rows = db.execute("SELECT id, userid, jobspec FROM jobs WHERE environment_key IS NULL "
                      "AND jobspec LIKE '%\"environment\"%' ORDER BY id").fetchall()
    db.execute("BEGIN")
    splitters = {}  # one per user, as at submission
    for job_id, userid, jobspec in rows:
        spec = json.loads(jobspec)
        system = spec.get("attributes", {}).get("system")
        if not isinstance(system, dict) or not isinstance(system.get("environment"), dict):
            continue
        if userid not in splitters:
            splitters[userid] = EnvironmentSplitter(
                lambda key, text: db.execute(_INSERT_ENVIRONMENT, (key, text)), userid)
        key, own = splitters[userid].split(system.pop("environment"))
        db.execute("UPDATE jobs SET jobspec = ?, environment_key = ?, environment_own = ? "
                   "WHERE id = ?", (dumps(spec), key, dumps(own) if own else None, job_id))
    db.execute("COMMIT")
    db.execute("PRAGMA auto_vacuum=INCREMENTAL")
    db.execute("VACUUM")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _describe_row(sql: str, row) -> str:
    """Which job a refused row belonged to, for the log (never the row's content)."""
    table = re.search(r"(?:INTO|FROM|UPDATE)\s+(\w+)", sql).group(1)
    if table not in ("jobs", "events"):
        return f"a row of table {table}"
    # Inserts and deletes name the job first, updates last (``WHERE id = ?``).
    return f"a row of table {table} for job {row[-1] if sql.startswith('UPDATE') else row[0]}"


def _event(row) -> dict:
    timestamp, name, context = row
    if context:
        return {"timestamp": timestamp, "name": name, "context": json.loads(context)}
    return {"timestamp": timestamp, "name": name}


def _run_callbacks(callbacks):
    """Call each after-commit callback; one that raises is logged and the others still run
    (each holds a job, a response or a start that must not hang on another's failure)."""
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("job store: after-commit callback %r failed", callback)
