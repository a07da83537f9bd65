"""Readiness of a node agent's short-lived descriptors (task pidfds, output pipes), watched
by one epoll of their own that the event loop sees as a single reader.

Every task adds three descriptors (its pidfd and two output pipes) and removes them when it
exits.  asyncio's ``add_reader`` and ``remove_reader`` cost about 16 µs a pair (a handle,
the selector's key map, a transport check), an epoll register and unregister under 2 µs:
about 40 µs of the node agent's CPU a task.  Readiness is level-triggered, as with
asyncio's readers: a descriptor left readable is reported again on the loop's next turn,
and a callback may be called once for a descriptor it had nothing to read from (as with
asyncio, a callback must tolerate that).
"""

import asyncio
import select
import weakref

_WATCHES: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Watch]" = \
    weakref.WeakKeyDictionary()


def of(loop) -> "Watch":
    """The loop's watch, made on first use (it lives as long as the loop)."""
    watch = _WATCHES.get(loop)
    if watch is None:
        watch = _WATCHES[loop] = Watch(loop)
    return watch


class Watch:
    """``add(fd, callback, *args)``: ``callback(*args)`` on the loop whenever ``fd`` is
    readable, until ``remove(fd)`` (before the descriptor is closed).  It holds no reference
    to its loop, which holds it (through its reader) and the registry's key."""

    __slots__ = ("_epoll", "_callbacks", "__weakref__")

    def __init__(self, loop):
        self._epoll = select.epoll()
        self._callbacks: dict[int, tuple] = {}
        loop.add_reader(self._epoll.fileno(), self._ready)

    def add(self, fd: int, callback, *args):
        """Watch ``fd`` (or change its callback, as ``add_reader`` would)."""
        if fd in self._callbacks:
            self._epoll.modify(fd, select.EPOLLIN)
        else:
            self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = (callback, args)

    def remove(self, fd: int):
        if self._callbacks.pop(fd, None) is not None:
            self._epoll.unregister(fd)

    def __len__(self):
        return len(self._callbacks)

    def _ready(self):
        callbacks = self._callbacks
        for fd, _events in self._epoll.poll(0):
            # Gone since the poll (an earlier callback removed it): nothing to call.
            entry = callbacks.get(fd)
            if entry is None:
                continue
            try:
                entry[0](*entry[1])
            except Exception as exc:  # one failing callback must not starve the others
                asyncio.get_running_loop().call_exception_handler({
                    "message": f"Exception in the callback of descriptor {fd}",
                    "exception": exc,
                })
