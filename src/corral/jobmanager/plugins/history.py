"""``.history``: each user's jobs, newest first, for ``job-manager.history.get``.

A job enters its user's list at ``job.new`` (or ``job.inactive-add`` after a restart) and
leaves it when purged (``job.inactive-remove``).  ``get {"slice": "[start:stop:step]"}``
answers the caller's own ids with Python slice semantics; guests may ask.
"""

import bisect
import errno
import re

from corral.jobtap import ROLE_USER

_SLICE = re.compile(r"\[(-?\d*):(-?\d*)(?::(-?\d*))?\]")


def parse_slice(text) -> slice | None:
    """``"[start:stop:step]"`` (any part may be empty) as a slice, or None."""
    matched = _SLICE.fullmatch(text.replace(" ", "")) if isinstance(text, str) else None
    if matched is None:
        return None
    start, stop, step = (int(part) if part else None for part in matched.groups())
    return None if step == 0 else slice(start, stop, step)


class History:
    def __init__(self):
        # uid -> [(t_submit, id)], oldest first: a new job is appended, not inserted at the
        # front (which moved every older entry, once per job).
        self.users: dict[int, list[tuple[float, int]]] = {}

    def track(self, p, topic, args):
        entry = (args["t_submit"], args["id"])
        jobs = self.users.setdefault(args["userid"], [])
        index = bisect.bisect_left(jobs, entry)
        present = index < len(jobs) and jobs[index] == entry
        if topic == "job.inactive-remove":
            if present:
                del jobs[index]
        elif not present:
            jobs.insert(index, entry)
        return 0

    def get(self, h, msg):
        request = msg.payload if isinstance(msg.payload, dict) else {}
        selection = parse_slice(request.get("slice"))
        if selection is None:
            h.respond_error(msg, errno.EINVAL,
                            "could not parse python-style slice expression")
            return
        newest_first = self.users.get(msg.userid, [])[::-1]
        h.respond(msg, {"jobs": [job_id for _t, job_id in newest_first[selection]]})


def plugin_init(p):
    history = History()
    p.service_register("get", history.get, rolemask=ROLE_USER)
    for topic in ("job.new", "job.inactive-add", "job.inactive-remove"):
        p.add_handler(topic, history.track)
