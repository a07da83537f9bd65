"""Where the daemons (``corral start``, ``corral agent``) log: stderr, one record a line.

Records are ``corral.broker: WARNING: message``.  A traceback follows its record only when
asked for (``-v``): a user who started an instance in a terminal sees what went wrong in one
line (``... callback raised RuntimeError: no license``), and ``corral dmesg`` keeps the whole
record.  For a service manager (``corral start --system``) every record is kept with its
traceback on one line (newlines become `` | ``), since journald and syslog split a stream at
newlines and a traceback cut into lines loses its level and its order among other records.
No colour, no timestamp: a service manager stamps each line itself.
"""

import logging
import sys

FORMAT = "%(name)s: %(levelname)s: %(message)s"


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", " | ")


class _NoTraceback(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        return self.formatMessage(record)


def to_stderr(level: int, tracebacks: bool = True, one_line: bool = False):
    """Send corral's log records of ``level`` and above to stderr, with their tracebacks
    (on the record's line with ``one_line``) or without."""
    if one_line:
        formatter = _OneLine(FORMAT)
    else:
        formatter = (logging.Formatter if tracebacks else _NoTraceback)(FORMAT)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.setLevel(level)
    root = logging.getLogger("corral")
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
