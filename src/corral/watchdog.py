"""The watchdog: a plugin callback that hangs must not freeze the controller.

The controller is one event loop, and jobtap callbacks and synchronous PrEp controller hooks
run on it; one that sleeps or spins would stop every service and make the instance deaf to
SIGTERM.  A thread of its own looks at the loop's thread every quarter of a second (a look at
its stack, so the callbacks themselves pay nothing):

* A plugin callback that has run longer than ``[job-manager] callback-timeout`` is logged with
  its plugin and topic and interrupted: `CallbackTimeout` is raised inside it, and its caller
  counts it as a failed callback, as for any exception (``-1`` for jobtap, ``ERROR`` for PrEp).
* An event loop that has not turned for that long for any other reason is logged with where
  it is.
* SIGTERM or SIGINT asks the loop to stop (or to hand the signal to the command of
  ``corral start -- CMD``, `corral.initial_program`); a callback stuck at that moment is
  interrupted at once.  If the loop still has not turned `TERMINATION_GRACE` seconds later
  (the callback ignores the interruption, or is stuck in C code), the watchdog stops the
  instance itself: it commits what the store has queued, kills every task and hook script,
  and exits with status 1.

Flux and Slurm have no such guard: a jobtap plugin or a synchronous PrEp hook that hangs hangs
the job manager or slurmctld with it.
"""

import logging
import os
import signal
import sys
import threading
import time

log = logging.getLogger("corral.watchdog")

#: Seconds between two looks at the loop.
INTERVAL = 0.25
#: Seconds the loop may stay stuck after SIGTERM before the watchdog stops the instance.
TERMINATION_GRACE = 5.0
#: The signal that makes the loop's thread raise `CallbackTimeout` in a stuck callback.
INTERRUPT_SIGNAL = signal.SIGUSR2


class CallbackTimeout(Exception):
    """Raised inside a plugin callback that ran over ``[job-manager] callback-timeout``."""


def _guarded_calls():
    """The functions that run plugin callbacks, each with how to name the callback it runs
    from its local variables: ``{code: describe(locals) -> (plugin, topic)}``."""
    from .jobmanager import jobtap_loading, stack
    from .prep import driver

    def jobtap(names, topic_name):
        plugin = names.get("plugin")
        return (f"jobtap plugin {getattr(plugin, 'display_name', plugin)}",
                str(names.get(topic_name)))

    def prep(names):
        plugin, job = names.get("plugin"), names.get("job")
        return (f"PrEp plugin {getattr(plugin, 'name', plugin)}",
                f"{names.get('hook')}(job {getattr(job, 'job_id', '?')})")

    return {
        stack.stack_call.__code__: lambda names: jobtap(names, "topic"),
        stack.call_plugin.__code__: lambda names: jobtap(names, "topic"),
        stack.run_service.__code__: lambda names: jobtap(names, "topic"),
        stack.run_guarded.__code__: lambda names: jobtap(names, "what"),
        driver.call_controller_hooks.__code__: prep,
        # A plugin loaded at run time (corral jobtap load) runs its module and plugin_init
        # on the loop too.
        jobtap_loading._import_file.__code__: lambda names: (
            f"jobtap plugin {names.get('path')}", "import"),
        jobtap_loading.PluginLoading._init.__code__: lambda names: (
            f"jobtap plugin {getattr(names.get('plugin'), 'path', '?')}", "plugin_init"),
    }


class Watchdog:
    def __init__(self, loop, timeout: float):
        """Watch ``loop`` (run by the calling thread); ``timeout`` seconds is the budget of
        one callback (0: never interrupt, only log)."""
        self.loop = loop
        self.timeout = timeout
        self.loop_thread = threading.get_ident()
        self._guarded = _guarded_calls()
        self._last_turn = time.monotonic()
        self._reported_stall = False
        self._callback = None  # (frame running it, plugin, topic), as last seen
        self._callback_since = 0.0
        self._interrupting = None  # the frame whose callback is to be interrupted
        self._termination_at = None
        self._on_termination = None
        self._saved_handlers = {}
        self._emergency = None
        self._stopped = threading.Event()
        self._thread = None

    def start(self, emergency_stop):
        """Start watching; ``emergency_stop()`` runs in the watchdog's thread when the loop
        cannot stop by itself (it must not return)."""
        self._emergency = emergency_stop
        signal.signal(INTERRUPT_SIGNAL, self._interrupt)
        self._beat()
        self._thread = threading.Thread(target=self._watch, name="corral-watchdog",
                                        daemon=True)
        self._thread.start()

    def handle_termination(self, signals, on_signal):
        """Let ``signals`` call ``on_signal(signum)`` on the loop, even while the loop is
        stuck."""
        self._on_termination = on_signal
        for signum in signals:
            self._saved_handlers[signum] = signal.signal(signum, self._termination_signal)

    def stop(self):
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
        for signum, handler in self._saved_handlers.items():
            signal.signal(signum, handler)
        signal.signal(INTERRUPT_SIGNAL, signal.SIG_DFL)

    # --- the loop's thread ---------------------------------------------------------------

    def _beat(self):
        self._last_turn = time.monotonic()
        if not self._stopped.is_set():
            self.loop.call_later(INTERVAL, self._beat)

    def _termination_signal(self, signum, frame):
        """Runs in the loop's thread between two bytecodes, even inside a stuck callback."""
        first = self._termination_at is None
        if first:
            self._termination_at = time.monotonic()
        log.info("watchdog: %s received; stopping", signal.Signals(signum).name)
        if self._on_termination is not None:
            self.loop.call_soon_threadsafe(self._on_termination, signum)
        callback = self._callback
        if callback is not None and time.monotonic() - self._callback_since > INTERVAL * 2:
            self._raise_in(frame, callback[0], f"interrupted: the instance is stopping "
                                               f"({signal.Signals(signum).name})")

    def _interrupt(self, signum, frame):
        target, self._interrupting = self._interrupting, None
        if target is not None:
            self._raise_in(frame, target,
                           f"interrupted: the callback ran longer than {self.timeout:g} s "
                           f"([job-manager] callback-timeout)")

    def _raise_in(self, frame, target, text):
        """Raise `CallbackTimeout` if the callback run by ``target`` is still on the stack."""
        while frame is not None:
            if frame is target:
                raise CallbackTimeout(text)
            frame = frame.f_back

    # --- the watchdog's thread -----------------------------------------------------------

    def _watch(self):
        while not self._stopped.wait(INTERVAL):
            try:
                self._look()
            except Exception:  # the watchdog must outlive anything it sees
                log.exception("watchdog: error while watching the event loop")

    def _look(self):
        now = time.monotonic()
        frame = sys._current_frames().get(self.loop_thread)
        callback = self._callback_in(frame)
        previous = self._callback
        if callback is None or previous is None or callback[0] is not previous[0] \
                or callback[1:] != previous[1:]:
            self._callback, self._callback_since = callback, now
        elif self.timeout and now - self._callback_since > self.timeout:
            _frame, plugin, topic = callback
            log.error("watchdog: %s: %s: the callback has held the event loop for %.1f s; "
                      "interrupting it", plugin, topic, now - self._callback_since)
            self._interrupting = callback[0]
            self._callback_since = now  # interrupt again after another timeout if need be
            signal.pthread_kill(self.loop_thread, INTERRUPT_SIGNAL)
        stalled = now - self._last_turn
        if self.timeout and stalled > self.timeout and not self._reported_stall:
            self._reported_stall = True
            log.warning("watchdog: the event loop has not turned for %.1f s (%s)", stalled,
                        _where(frame, callback))
        elif stalled < INTERVAL * 2:
            self._reported_stall = False
        termination = self._termination_at
        if termination is not None and now - termination > TERMINATION_GRACE \
                and self._last_turn < termination:
            log.critical("watchdog: the event loop has been stuck for %.1f s (%s) and cannot "
                         "stop by itself; stopping the instance without it", stalled,
                         _where(frame, callback))
            self._emergency()

    def _callback_in(self, frame):
        """``(frame, plugin, topic)`` of the innermost plugin callback running, or None."""
        guarded = self._guarded
        while frame is not None:
            describe = guarded.get(frame.f_code)
            if describe is not None:
                return (frame, *describe(frame.f_locals))
            frame = frame.f_back
        return None


def _where(frame, callback) -> str:
    if callback is not None:
        return f"in {callback[1]}: {callback[2]}"
    if frame is None:
        return "nowhere"
    code = frame.f_code
    return f"at {os.path.basename(code.co_filename)}:{frame.f_lineno} in {code.co_name}"
