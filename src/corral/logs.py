"""Where the daemons (``corral start``, ``corral agent``) log: stderr, one record a line.

Records are ``corral.broker: WARNING: message``.  For a service manager (``corral start
--system``) every record is kept on one line, its traceback included (newlines become
`` | ``), since journald and syslog split a stream at newlines and a traceback cut into
lines loses its level and its order among other records.  No colour, no timestamp: the
service manager stamps each line itself.
"""

import logging
import sys

FORMAT = "%(name)s: %(levelname)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", " | ")


def to_stderr(level: int, one_line: bool = False):
    """Send corral's log records of ``level`` and above to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter((OneLineFormatter if one_line else logging.Formatter)(FORMAT))
    handler.setLevel(level)
    root = logging.getLogger("corral")
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
