"""The in-process message channel between the exec service and node agents.

A message is a JSON-compatible dict delivered on the next loop iteration, never re-entrantly,
so the two sides behave exactly as they would over a socket.
"""


class LocalChannel:
    __slots__ = ("loop", "receiver")

    def __init__(self, loop, receiver):
        self.loop = loop
        self.receiver = receiver

    def send(self, msg: dict):
        self.loop.call_soon(self.receiver, msg)
