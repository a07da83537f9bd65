"""Every node's log in the controller's: what ``corral agent`` logs at INFO and above travels
to the controller as a ``log`` message, and the controller logs it again under the same
logger, with the node's hostname in front, so ``corral dmesg`` shows what each node said (a
failed prolog's output, a refused credential) as it does on one machine, the way Flux
forwards each broker's log to rank 0.  The agent's own stderr keeps everything as well.

Records come from any thread (node hooks run in threads of their own); they are handed to
the event loop, which owns the transport.  A record logged while one is being forwarded is
not forwarded, so a transport that logs cannot feed itself.
"""

import logging
import threading

log = logging.getLogger("corral.agent")

#: The lowest level forwarded to the controller.
FORWARD_LEVEL = logging.INFO


class Forwarder(logging.Handler):
    """The agent's side: a handler on the ``corral`` logger that sends each record."""

    def __init__(self, loop, send):
        super().__init__(FORWARD_LEVEL)
        self.loop = loop
        self.send = send
        self._busy = threading.local()
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record):
        if getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            message = {"type": "log", "logger": record.name, "level": record.levelno,
                       "text": self.format(record), "time": record.created}
            self.loop.call_soon_threadsafe(self._send, message)
        except RuntimeError:
            pass  # the loop is closed: the agent is stopping
        finally:
            self._busy.on = False

    def _send(self, message):
        self._busy.on = True
        try:
            self.send(message)
        finally:
            self._busy.on = False


def relog(hostname: str, message: dict):
    """The controller's side: log what agent ``hostname`` logged.  Its logger must be one of
    corral's (``corral.*``), else it is logged under ``corral.agent``; a malformed message is
    dropped with one line."""
    name, level, text = message.get("logger"), message.get("level"), message.get("text")
    created = message.get("time")
    if not (isinstance(name, str) and isinstance(text, str) and isinstance(level, int)
            and not isinstance(level, bool) and isinstance(created, int | float)):
        log.error("agent %s: dropped a log message without logger, level, text and time",
                  hostname)
        return
    if not name.startswith("corral."):
        name = "corral.agent"
    level = min(max(level, logging.DEBUG), logging.CRITICAL)
    record = logging.LogRecord(name, level, "", 0, "%s: %s", (hostname, text), None)
    record.created = float(created)
    record.msecs = record.created % 1 * 1000
    logging.getLogger(name).handle(record)
