"""Callbacks an event loop runs when it has nothing else to do, before it waits (the
prepare watchers of libev, and of Flux's reactor).

Work that one burst of events produces piecemeal is cheaper done once, at the end of the
burst: a frame of an agent's answers sent on ``call_soon`` leaves after the first few, a
store commit started on ``call_soon`` takes its batch before the scheduler has allocated
the jobs the same frame freed cores for, and each extra frame and commit costs both
processes a turn of their loops.  An `IdleLoop` runs the callbacks given to
`when_idle` once no descriptor is ready and no other callback is waiting; a loop that stays
busy runs them after at most `MAX_DELAY` all the same.  On any other loop `when_idle` is
``call_soon``.
"""

import asyncio
import selectors
import time

#: Seconds a callback waits at most for its loop to become idle.
MAX_DELAY = 0.002


class IdleLoop(asyncio.SelectorEventLoop):
    """An event loop that runs `when_idle` callbacks (``asyncio.Runner``'s loop_factory)."""

    def __init__(self):
        self._idle = IdleSelector(self)
        super().__init__(self._idle)

    def call_when_idle(self, callback, *args):
        self._idle.add(callback, args)


def when_idle(loop: asyncio.AbstractEventLoop, callback, *args):
    """``callback(*args)`` on ``loop`` once it is idle, or soon if it cannot tell."""
    if isinstance(loop, IdleLoop):
        loop.call_when_idle(callback, *args)
    else:
        loop.call_soon(callback, *args)


class IdleSelector(selectors.DefaultSelector):
    """The loop's selector: asked to wait, it first looks whether anything is ready and,
    when nothing is, runs the idle callbacks instead of waiting (the loop then runs what
    they scheduled, and asks again)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        super().__init__()
        self.loop = loop
        self._callbacks: list[tuple] = []
        self._since = 0.0

    def add(self, callback, args):
        if not self._callbacks:
            self._since = time.monotonic()
        self._callbacks.append((callback, args))

    def select(self, timeout=None):
        if not self._callbacks:
            return super().select(timeout)
        ready = super().select(0)
        busy = ready or (timeout is not None and timeout <= 0)
        if busy and time.monotonic() - self._since < MAX_DELAY:
            return ready
        callbacks, self._callbacks = self._callbacks, []
        for callback, args in callbacks:
            try:
                callback(*args)
            except Exception as exc:  # one failing callback must not stop the loop
                self.loop.call_exception_handler({
                    "message": f"Exception in idle callback {callback!r}",
                    "exception": exc,
                })
        return ready
