"""The Handle: what a plugin gets from `get_flux()` to do asynchronous work.

It wraps the broker and the event loop in the small surface Flux plugins use: RPCs that return
futures, timers, spawned coroutines, logging at syslog levels, and responding to requests
made to a plugin's own services.  Calls from other threads (PrEp plugins working in a thread)
are handed to the event loop; `Future.get()` lets such a thread wait for an answer.

A handle may carry a *runner*: the function through which every callback it schedules (timer,
RPC continuation, spawned task) is run.  The job manager gives each plugin a handle derived
from its own with a runner that logs a failure with the plugin's name instead of letting it
escape into the event loop, and `close()` stops what a removed plugin left scheduled.
"""

import asyncio
import logging
import threading
import weakref

from .message import Message, RequestError
from .roles import ROLE_OWNER

# syslog levels (what Flux plugins pass to flux_log) mapped onto Python's logging levels.
LOG_EMERG, LOG_ALERT, LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG = range(8)
_SYSLOG_TO_LOGGING = {
    LOG_EMERG: logging.CRITICAL,
    LOG_ALERT: logging.CRITICAL,
    LOG_CRIT: logging.CRITICAL,
    LOG_ERR: logging.ERROR,
    LOG_WARNING: logging.WARNING,
    LOG_NOTICE: logging.INFO,
    LOG_INFO: logging.INFO,
    LOG_DEBUG: logging.DEBUG,
}


def logging_level(level: int) -> int:
    """Accept a syslog level (0-7, as Flux uses) or a Python logging level."""
    return _SYSLOG_TO_LOGGING.get(level, level)


class Future:
    """The answer to an RPC: ``await fut``, ``fut.then(cb)``, or ``fut.get()`` from a thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, inner: asyncio.Future, guard=None):
        self._loop = loop
        self._inner = inner
        self._guard = guard

    def __await__(self):
        return self._inner.__await__()

    def done(self) -> bool:
        return self._inner.done()

    def then(self, callback):
        """Call ``callback(future)`` on the event loop once the answer is in."""
        if self._guard is not None:
            callback = self._guard("rpc continuation", callback)
        self._inner.add_done_callback(lambda _inner: callback(self))
        return self

    def result(self):
        """The payload, or raise the error the service answered with (only once done)."""
        return self._inner.result()

    def get(self, timeout: float | None = None):
        """Block this (non-loop) thread until the answer is in, then return or raise it."""
        if _on_loop_thread(self._loop):
            raise RuntimeError("Future.get() would block the event loop; use await or then()")
        finished = threading.Event()
        self._loop.call_soon_threadsafe(
            lambda: self._inner.add_done_callback(lambda _inner: finished.set())
        )
        if not finished.wait(timeout):
            raise TimeoutError("no response within the timeout")
        return self._inner.result()


class Timer:
    """A one-shot or repeating timer; ``stop()`` cancels it."""

    def __init__(self, loop, after, callback, repeat):
        self._loop = loop
        self._callback = callback
        self.repeat = repeat
        self._handle = loop.call_later(after, self._fire)

    def _fire(self):
        if self.repeat > 0:
            self._handle = self._loop.call_later(self.repeat, self._fire)
        else:
            self._handle = None
        self._callback(self)

    def stop(self):
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    @property
    def active(self) -> bool:
        return self._handle is not None


def _on_loop_thread(loop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class Handle:
    """A broker handle for code living in the controller (plugins, builtins, services).

    ``runner(what, callback, *args)``, when given, runs every callback this handle schedules;
    ``what`` names the kind of callback (``timer``, ``rpc continuation``, ``task``) for the log.
    """

    def __init__(self, broker, logger: logging.Logger, runner=None):
        self.broker = broker
        self.loop = broker.loop
        self._logger = logger
        self._runner = runner
        self._timers = weakref.WeakSet()
        self._tasks = weakref.WeakSet()

    def derive(self, logger: logging.Logger, runner) -> "Handle":
        """The same broker and loop, logging to ``logger``, running callbacks via ``runner``."""
        return Handle(self.broker, logger, runner)

    def _guard(self, what: str, callback):
        runner = self._runner
        if runner is None:
            return callback

        def guarded(*args):
            return runner(what, callback, *args)

        return guarded

    def rpc(self, topic: str, payload=None) -> Future:
        """Request ``topic`` with the owner's credentials; the answer arrives on a Future."""
        loop = self.loop
        guard = self._guard if self._runner is not None else None
        if _on_loop_thread(loop):
            return Future(loop, self.broker.rpc(topic, payload), guard)
        inner = loop.create_future()

        def send():
            answer = self.broker.rpc(topic, payload)
            answer.add_done_callback(lambda done: _chain(done, inner))

        loop.call_soon_threadsafe(send)
        return Future(loop, inner, guard)

    def timer(self, after: float, callback, repeat: float = 0) -> Timer:
        """Call ``callback(timer)`` after ``after`` seconds, then every ``repeat`` if > 0."""
        timer = Timer(self.loop, after, self._guard("timer", callback), repeat)
        self._timers.add(timer)
        return timer

    def spawn(self, coroutine) -> asyncio.Task:
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        if self._runner is not None:
            task.add_done_callback(self._report_task)
        return task

    def _report_task(self, task: asyncio.Task):
        if not task.cancelled() and task.exception() is not None:
            self._runner("task", task.result)

    def close(self):
        """Stop every timer and cancel every task scheduled through this handle."""
        for timer in list(self._timers):
            timer.stop()
        for task in list(self._tasks):
            task.cancel()

    def log(self, level: int, fmt: str, *args):
        self._logger.log(logging_level(level), fmt % args if args else fmt)

    def log_error(self, fmt: str, *args):
        self._logger.error(fmt % args if args else fmt)

    def respond(self, msg: Message, payload=None):
        msg.respond(payload)

    def respond_error(self, msg: Message, errnum: int, text: str | None = None):
        msg.respond_error(errnum, text)


def _chain(source: asyncio.Future, target: asyncio.Future):
    if target.done():
        return
    if source.exception() is not None:
        target.set_exception(source.exception())
    else:
        target.set_result(source.result())


__all__ = ["Handle", "Future", "Timer", "RequestError", "ROLE_OWNER", "logging_level"]
