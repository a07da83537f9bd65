"""`corral.idle`: callbacks that wait for their loop to run out of work, but not forever."""

import asyncio
import os
import time

from corral import idle


def run(main):
    with asyncio.Runner(loop_factory=idle.IdleLoop) as runner:
        return runner.run(main())


def test_an_idle_callback_runs_after_the_work_already_queued():
    order = []

    async def main():
        loop = asyncio.get_running_loop()
        idle.when_idle(loop, order.append, "idle")
        for n in range(3):
            loop.call_soon(order.append, n)
        await asyncio.sleep(0.01)

    run(main)
    assert order == [0, 1, 2, "idle"]


def test_an_idle_callback_waits_for_ready_descriptors_to_be_handled():
    order = []

    async def main():
        loop = asyncio.get_running_loop()
        read, write = os.pipe()
        loop.add_reader(read, lambda: order.append(os.read(read, 10)))
        os.write(write, b"x")
        idle.when_idle(loop, order.append, "idle")
        await asyncio.sleep(0.01)
        loop.remove_reader(read)
        os.close(read)
        os.close(write)

    run(main)
    assert order == [b"x", "idle"]


def test_callbacks_given_in_one_burst_run_together_in_one_turn():
    runs, turns = [], []

    async def main():
        loop = asyncio.get_running_loop()
        for n in range(5):
            idle.when_idle(loop, lambda n=n: (runs.append((n, len(turns))),
                                              loop.call_soon(turns.append, n)))
        await asyncio.sleep(0.01)

    run(main)
    assert runs == [(n, 0) for n in range(5)]


def test_a_busy_loop_runs_an_idle_callback_within_max_delay():
    ran = []

    async def main():
        loop = asyncio.get_running_loop()
        idle.when_idle(loop, lambda: ran.append(time.monotonic()))
        start = time.monotonic()
        while not ran and time.monotonic() - start < 1:
            await asyncio.sleep(0)  # always something to do: never idle
        return start

    start = run(main)
    assert ran, "a loop that never idles never ran its idle callback"
    assert ran[0] - start < idle.MAX_DELAY + 0.05


def test_a_failing_idle_callback_is_reported_and_the_loop_goes_on():
    reported, ran = [], []

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: reported.append(context["exception"]))
        idle.when_idle(loop, lambda: 1 / 0)
        idle.when_idle(loop, ran.append, "after")
        await asyncio.sleep(0.01)

    run(main)
    assert [type(exc) for exc in reported] == [ZeroDivisionError]
    assert ran == ["after"]


def test_on_another_loop_when_idle_is_call_soon():
    ran = []

    async def main():
        idle.when_idle(asyncio.get_running_loop(), ran.append, "soon")
        await asyncio.sleep(0)

    asyncio.run(main())
    assert ran == ["soon"]


def _commits(store):
    return sum(store.commit_timings.counts)


def test_a_store_commits_once_what_one_burst_of_callbacks_writes(tmp_path):
    """What the job manager writes while it handles one frame, and what the scheduler then
    writes for the jobs it starts, is one transaction, not one per ``call_soon``."""
    from corral.store.sqlite import Store

    def event(seq):
        return {"timestamp": 1.0 + seq, "name": f"e{seq}"}

    async def main(name):
        loop = asyncio.get_running_loop()
        store = Store(str(tmp_path / f"{name}.db"), loop)
        store.add_job(1, 1000, 1.0, '{"version": 1}')
        store.append_event(1, 0, event(0), None)
        loop.call_soon(lambda: loop.call_soon(store.append_event, 1, 1, event(1), None))
        await asyncio.sleep(0.05)
        await store.flush()
        assert [e["name"] for e in store.events(1)] == ["e0", "e1"]
        commits = _commits(store)
        store.close()
        return commits

    assert run(lambda: main("idle")) == 1
    assert asyncio.run(main("soon")) == 2  # the same writes on call_soon: two commits
