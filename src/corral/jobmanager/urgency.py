"""Urgency (RFC 30): 0 holds a job, 31 expedites it, 16 is the default.

Guests may change only their own jobs and may not raise urgency above the default (or the
job's current urgency, if higher); no one may change it once resources are allocated.
"""

import errno

from ..broker.message import RequestError
from ..broker.roles import ROLE_OWNER
from ..states import State
from .plugin import URGENCY_DEFAULT


class Urgency:
    def __init__(self, manager):
        self.manager = manager

    def serve(self, msg):
        request = msg.payload_object()
        job = self.manager.active_job_for(msg, request.get("id"))
        urgency = request.get("urgency")
        if type(urgency) is not int or not 0 <= urgency <= 31:
            raise RequestError(errno.EINVAL, "urgency must be an integer from 0 to 31")
        if not msg.rolemask & ROLE_OWNER and urgency > max(URGENCY_DEFAULT, job.urgency):
            raise RequestError(errno.EPERM,
                               f"guests may not raise urgency above {URGENCY_DEFAULT}")
        if job.has_resources or job.state & (State.RUN | State.CLEANUP | State.INACTIVE):
            raise RequestError(errno.EINVAL,
                               "urgency cannot be changed once resources are allocated")
        old = job.urgency
        self.manager.events.post(job, "urgency", {"urgency": urgency, "userid": msg.userid})
        msg.respond({"old_urgency": old})
