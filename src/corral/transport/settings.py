"""The transport's clocks: how often peers beat, when silence means trouble, how fast an
agent retries.

One frozen value shared by both ends, checked when it is made so that a bad setting is one
sentence at startup rather than a node declared lost at random later.  The defaults are the
documented ones (heartbeat every 2 s, 10 s of silence: no new work, 30 s: lost).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    #: Seconds between an agent's heartbeats (the controller answers each one).
    heartbeat_interval: float = 2.0
    #: Seconds of silence after which a peer is "unresponsive" (a node gets no new work).
    unresponsive_after: float = 10.0
    #: Seconds of silence after which a peer is "lost".
    lost_after: float = 30.0
    #: An agent's first reconnect delay; ZeroMQ doubles it on each failure up to the maximum.
    reconnect_min: float = 0.1
    reconnect_max: float = 5.0

    def __post_init__(self):
        for name in ("heartbeat_interval", "unresponsive_after", "lost_after", "reconnect_min",
                     "reconnect_max"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"transport setting {name} must be a positive number of "
                                 f"seconds, not {value!r}")
        if not self.heartbeat_interval < self.unresponsive_after < self.lost_after:
            raise ValueError(
                "transport settings must satisfy heartbeat_interval < unresponsive_after < "
                f"lost_after (got {self.heartbeat_interval}, {self.unresponsive_after}, "
                f"{self.lost_after})")
        if self.reconnect_min > self.reconnect_max:
            raise ValueError(f"transport setting reconnect_min ({self.reconnect_min}) is "
                             f"greater than reconnect_max ({self.reconnect_max})")


def from_config(config) -> Settings:
    """The clocks of ``[agents]`` (``heartbeat-interval``, ``unresponsive-after``,
    ``lost-after``), defaults where absent; a bad one is the configuration's error."""
    defaults = Settings()
    try:
        return Settings(
            config.get_duration("agents.heartbeat-interval", defaults.heartbeat_interval),
            config.get_duration("agents.unresponsive-after", defaults.unresponsive_after),
            config.get_duration("agents.lost-after", defaults.lost_after))
    except ValueError as exc:
        raise config.error("agents", str(exc)) from None
