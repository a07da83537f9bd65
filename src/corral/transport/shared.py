"""Environments sent once per link instead of in every start request.

A start request carries its job's environment (``env``), most often its submitter's whole
environment, the same forty-odd variables for every job: most of a 2,259-byte start frame,
17 µs to encode on the controller and 17 to decode on the agent.  So the
sender numbers each distinct environment and sends it whole with the first message that
uses it (``"env": {...}, "env_id": N``); every later message names it (``"env": N``), and
the receiver puts the value it kept back before the message is applied.

Both tables follow the numbered messages of one direction of one link (`sequence`): the
sender's lives with its `Outbox` and the receiver's with its `Inbox`, so they start empty
together (a restarted agent gets a new outbox, a new controller a new inbox), and since
messages are applied once and in order, a message naming a value is applied after the one
that brought it, on a replay too.  The sender keeps `KEPT` values at most; the message that
brings one more names the least recently used, which the receiver forgets
(``"env_forget": M``), so both hold the same ones.
"""

import logging
from types import MappingProxyType

log = logging.getLogger("corral.transport")

#: Environments kept per link direction.
KEPT = 64


class SharedOut:
    """The sender's table: each environment sent, by its items, and the number it got."""

    __slots__ = ("numbers", "next_number", "last_items", "last_number")

    def __init__(self):
        self.numbers: dict[tuple, int] = {}  # least recently used first
        self.next_number = 1
        self.last_items = None  # the last environment sent: most starts repeat it
        self.last_number = 0

    def pack(self, message: dict) -> dict:
        """``message`` as it goes out: its environment named if the receiver has it."""
        env = message.get("env")
        if type(env) is not dict:
            return message
        items = tuple(env.items())
        if items == self.last_items:
            return {**message, "env": self.last_number}
        numbers = self.numbers
        number = numbers.pop(items, None)
        if number is not None:
            numbers[items] = number  # now the most recently used
            self.last_items, self.last_number = items, number
            return {**message, "env": number}
        number = self.next_number
        self.next_number = number + 1
        packed = {**message, "env_id": number}
        if len(numbers) >= KEPT:
            oldest = next(iter(numbers))
            packed["env_forget"] = numbers.pop(oldest)
        numbers[items] = number
        self.last_items, self.last_number = items, number
        return packed


class SharedIn:
    """The receiver's table: the environments its sender may name, by number."""

    __slots__ = ("values",)

    def __init__(self):
        self.values: dict[int, MappingProxyType] = {}

    def unpack(self, message: dict) -> dict | None:
        """``message`` (decoded, the receiver's own) with its environment whole; None, after
        an error is logged, if it names one never sent (a bug: it cannot be applied)."""
        env = message.get("env")
        if env is None:
            return message
        if type(env) is int:
            value = self.values.get(env)
            if value is None:
                log.error("transport: dropped a %s message naming environment %d, which "
                          "was never sent", message.get("type"), env)
                return None
            message["env"] = value
            return message
        number = message.pop("env_id", None)
        if number is not None:
            forget = message.pop("env_forget", None)
            if type(number) is not int or type(env) is not dict or \
                    (forget is not None and type(forget) is not int):
                log.error("transport: dropped a %s message whose environment is not a "
                          "numbered object", message.get("type"))
                return None
            if forget is not None:
                self.values.pop(forget, None)
            # Read-only, and the same object for every message naming it: the agent keeps
            # what it makes of it (`exec.launch`), which no one can change behind its back.
            env = message["env"] = self.values[number] = MappingProxyType(env)
        return message
