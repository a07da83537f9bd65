"""A throw-away store (a simulation's) holds its batches and writes them together: its reads
still see every write, a refused row is still dropped alone, and what it held is on disk
once it is closed."""

import logging
import sqlite3

from corral.sim.clock import VirtualClockLoop
from corral.store import sqlite
from corral.store.sqlite import Store


def _committed(store, loop):
    done = []
    store.after_commit(lambda: done.append(True))
    while not done:
        loop.run_until_complete(loop.wake_at(loop.time()))
    return done


def test_reads_see_held_writes_and_close_stores_them(tmp_path):
    loop = VirtualClockLoop(1_000_000_000.0)
    path = str(tmp_path / "store.db")
    store = Store(path, loop, throwaway=True)
    store.add_job(1, 1000, 1.0, '{"version": 1}')
    store.append_event(1, 0, {"timestamp": 1.0, "name": "submit"}, '{"urgency":16}')
    store.set_final(1, 64, {"result": "COMPLETED"})
    _committed(store, loop)
    outside = sqlite3.connect(path)
    assert outside.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)  # held
    assert store.events(1) == [{"timestamp": 1.0, "name": "submit",
                                "context": {"urgency": 16}}]
    assert outside.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)  # written
    outside.close()
    store.append_event(1, 1, {"timestamp": 2.0, "name": "clean"}, None)
    _committed(store, loop)
    store.close()
    loop.close()
    reopened = Store(path)
    try:
        assert [event["name"] for event in reopened.events(1)] == ["submit", "clean"]
        assert list(reopened.inactive_summaries()) == [(1, {"result": "COMPLETED"})]
    finally:
        reopened.close()


def test_a_refused_row_is_dropped_alone(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(sqlite, "THROWAWAY_BATCHES_PER_COMMIT", 2)
    loop = VirtualClockLoop(1_000_000_000.0)
    store = Store(str(tmp_path / "store.db"), loop, throwaway=True)
    store.add_job(1, 1000, 1.0, "{}")
    store.append_event(1, 0, {"timestamp": 1.0, "name": "submit"}, None)
    _committed(store, loop)
    store.append_event(1, 0, {"timestamp": 2.0, "name": "duplicate"}, None)
    store.append_event(1, 1, {"timestamp": 3.0, "name": "depend"}, None)
    with caplog.at_level(logging.ERROR, logger="corral.store"):
        _committed(store, loop)
    assert [event["name"] for event in store.events(1)] == ["submit", "depend"]
    assert "for job 1" in caplog.text
    store.close()
    loop.close()
