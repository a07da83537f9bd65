"""The node agent's descriptor watch: one epoll for every task's pidfd and output pipes."""

import asyncio
import os

import pytest

from corral.exec import watch


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _pipe():
    read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    return read_end, write_end


def _turns(loop, count=3):
    for _ in range(count):
        loop.run_until_complete(asyncio.sleep(0.01))


def test_one_watch_per_loop(loop):
    assert watch.of(loop) is watch.of(loop)
    other = asyncio.new_event_loop()
    try:
        assert watch.of(other) is not watch.of(loop)
    finally:
        other.close()


def test_called_while_readable_and_not_after_remove(loop):
    read_end, write_end = _pipe()
    calls = []
    watched = watch.of(loop)
    watched.add(read_end, calls.append, "r")
    _turns(loop)
    assert calls == []
    os.write(write_end, b"x")
    _turns(loop)
    # Level-triggered: nothing was read, so every turn reports it again.
    assert len(calls) >= 2
    watched.remove(read_end)
    assert len(watched) == 0
    count = len(calls)
    _turns(loop)
    assert len(calls) == count
    watched.remove(read_end)  # removing twice is harmless
    os.close(read_end)
    os.close(write_end)


def test_read_to_empty_is_not_called_again(loop):
    read_end, write_end = _pipe()
    calls = []

    def readable():
        calls.append(os.read(read_end, 100))

    watch.of(loop).add(read_end, readable)
    os.write(write_end, b"abc")
    _turns(loop)
    assert calls == [b"abc"]
    watch.of(loop).remove(read_end)
    for fd in (read_end, write_end):
        os.close(fd)


def test_a_descriptor_removed_by_an_earlier_callback_is_not_called(loop):
    ends = [_pipe(), _pipe()]
    calls = []
    watched = watch.of(loop)

    def first(name):
        calls.append(name)
        for read_end, _ in ends:
            watched.remove(read_end)

    for index, (read_end, write_end) in enumerate(ends):
        watched.add(read_end, first, index)
        os.write(write_end, b"x")
    _turns(loop)
    assert len(calls) == 1
    for pair in ends:
        for fd in pair:
            os.close(fd)


def test_a_failing_callback_does_not_stop_the_others(loop):
    ends = [_pipe(), _pipe()]
    calls, errors = [], []
    loop.set_exception_handler(lambda _loop, context: errors.append(context["exception"]))
    watched = watch.of(loop)

    def fail():
        raise RuntimeError("boom")

    watched.add(ends[0][0], fail)
    watched.add(ends[1][0], calls.append, "second")
    for _, write_end in ends:
        os.write(write_end, b"x")
    loop.run_until_complete(asyncio.sleep(0))
    loop.run_until_complete(asyncio.sleep(0))
    assert calls and errors and isinstance(errors[0], RuntimeError)
    for read_end, _ in ends:
        watched.remove(read_end)
    for pair in ends:
        for fd in pair:
            os.close(fd)


def test_adding_again_replaces_the_callback(loop):
    read_end, write_end = _pipe()
    calls = []
    watched = watch.of(loop)
    watched.add(read_end, calls.append, "old")
    watched.add(read_end, calls.append, "new")
    os.write(write_end, b"x")
    loop.run_until_complete(asyncio.sleep(0))
    loop.run_until_complete(asyncio.sleep(0))
    assert calls and set(calls) == {"new"}
    watched.remove(read_end)
    os.close(read_end)
    os.close(write_end)
