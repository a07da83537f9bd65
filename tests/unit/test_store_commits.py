"""Where the job store's commits and checkpoints run: commits on the loop while they are
quick, on the writer thread while they are slow, and checkpoints always on the writer
thread."""

import asyncio
import itertools
import shutil
import sqlite3
import threading
import types

from corral import idle
from corral.store import sqlite as store_module
from corral.store.sqlite import Store


def run(main):
    with asyncio.Runner(loop_factory=idle.IdleLoop) as runner:
        return runner.run(main())


def _event(seq):
    return {"timestamp": 1.0 + seq, "name": f"e{seq}"}


def _recording_writes(store):
    """Record the name of the thread each transaction is written on."""
    threads = []
    write = store._write

    def recorded(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return write(*args, **kwargs)

    store._write = recorded
    return threads


def _every_commit_takes(monkeypatch, seconds):
    """The store's clock, read once before and once after each commit, advances
    ``seconds`` a reading."""
    clock = itertools.count(step=seconds)
    monkeypatch.setattr(store_module, "time",
                        types.SimpleNamespace(perf_counter=lambda: next(clock)))


async def _commit_one_event_at_a_time(store, count):
    store.add_job(1, 1000, 1.0, '{"version": 1}')
    for seq in range(count):
        store.append_event(1, seq, _event(seq), None)
        await store.flush()


def _three_commits(path):
    """The threads three one-event commits were written on, and how many commits were
    still to go on the writer thread after them."""
    async def main():
        store = Store(str(path), asyncio.get_running_loop())
        threads = _recording_writes(store)
        await _commit_one_event_at_a_time(store, 3)
        assert [e["name"] for e in store.events(1)] == ["e0", "e1", "e2"]
        in_thread = store._in_thread
        store.close()
        return threads, in_thread

    return run(main)


def test_quick_commits_run_on_the_loop_thread(tmp_path):
    threads, in_thread = _three_commits(tmp_path / "quick.db")
    assert threads == [threading.main_thread().name] * 3
    assert in_thread == 0


def test_a_slow_commit_sends_the_next_ones_to_the_writer_thread(tmp_path, monkeypatch):
    _every_commit_takes(monkeypatch, 0.01)
    threads, in_thread = _three_commits(tmp_path / "slow.db")
    assert threads[0] == threading.main_thread().name
    assert all(name.startswith("corral-store") for name in threads[1:]), threads
    # Commits on the thread say nothing of the disk: they only count down.
    assert in_thread == store_module.QUICK_COMMITS_TO_RETURN - 2


def test_a_large_batch_goes_to_the_writer_thread_and_is_not_taken_for_a_slow_disk(
        tmp_path, monkeypatch):
    """A submission of a thousand jobs is written on the writer thread, where the loop goes
    on while SQLite writes; its milliseconds are for its rows, not for the disk, so the
    small commits after it stay on the loop.  Every commit here takes 10 ms."""
    _every_commit_takes(monkeypatch, 0.01)

    async def main():
        store = Store(str(tmp_path / "large.db"), asyncio.get_running_loop())
        threads = _recording_writes(store)
        for job in range(1, store_module.LARGE_BATCH + 1):
            store.add_job(job, 1000, 1.0, '{"version": 1}')
        await store.flush()
        after_large = store._in_thread
        store.append_event(1, 0, _event(0), None)
        await store.flush()
        after_small = store._in_thread
        store.close()
        return threads, after_large, after_small

    threads, after_large, after_small = run(main)
    assert threads[0].startswith("corral-store") and threads[1] == threading.main_thread().name
    assert after_large == 0  # 10 ms for a few hundred rows: quick
    assert after_small == store_module.QUICK_COMMITS_TO_RETURN  # 10 ms for one: the disk


def test_commits_return_to_the_loop_after_enough_quick_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "QUICK_COMMITS_TO_RETURN", 2)

    async def main():
        store = Store(str(tmp_path / "back.db"), asyncio.get_running_loop())
        threads = _recording_writes(store)
        store._in_thread = store_module.QUICK_COMMITS_TO_RETURN  # as after a slow commit
        await _commit_one_event_at_a_time(store, 4)
        store.close()
        return threads

    threads = run(main)
    assert [name.startswith("corral-store") for name in threads] == [True, True, False, False]


def test_commits_leave_the_database_file_to_a_later_checkpoint(tmp_path, monkeypatch):
    """A commit only appends to the log (no sync on the loop); the checkpoint that copies
    the log into the database file comes `CHECKPOINT_DELAY` later, off the loop."""
    monkeypatch.setattr(store_module, "CHECKPOINT_DELAY", 0.2)
    path = tmp_path / "checkpoint.db"

    def rows_in_database_file_alone(name):
        copy = tmp_path / name
        shutil.copyfile(path, copy)  # without its -wal file: only what was checkpointed
        with sqlite3.connect(copy) as db:
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
                return 0  # even the schema is still in the log
            return db.execute("SELECT count(*) FROM events").fetchone()[0]

    async def main():
        store = Store(str(path), asyncio.get_running_loop())
        await _commit_one_event_at_a_time(store, 1)  # the checkpoint is due from now
        before = rows_in_database_file_alone("before.db")
        await asyncio.sleep(0.8)
        after = rows_in_database_file_alone("after.db")
        store.close()
        return before, after

    before, after = run(main)
    assert before == 0
    assert after == 1
