"""The controller's log: a ring buffer of recent records that ``corral dmesg`` reads.

Plugins' errors and tracebacks land here with the plugin's name, so an operator (or a test)
can see why a plugin failed without access to the controller's stderr.
"""

import collections
import logging
import time

from .roles import ROLE_OWNER


class RingBuffer(logging.Handler):
    def __init__(self, capacity: int = 10000):
        super().__init__(logging.DEBUG)
        self.records = collections.deque(maxlen=capacity)
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record):
        try:
            text = self.format(record)
        except Exception:
            text = record.getMessage()
        self.records.append((record.created, record.name, record.levelname, text))

    def lines(self) -> list[str]:
        out = []
        for created, name, level, text in self.records:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(created))
            out.append(f"{stamp}.{int(created % 1 * 1e6):06d} {name}.{level.lower()}: {text}")
        return out

    def register_services(self, broker):
        broker.register("log.dmesg", self.serve, ROLE_OWNER)

    def serve(self, msg):
        request = msg.payload_object()
        msg.respond({"lines": self.lines()})
        if request.get("clear"):
            self.records.clear()
