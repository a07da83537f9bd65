"""Signals for running jobs: ``job-manager.kill`` sends one to every task of a job."""

import errno
import signal

from ..broker.message import RequestError
from ..states import State


class Kill:
    def __init__(self, manager):
        self.manager = manager

    def serve(self, msg):
        request = msg.payload_object()
        job = self.manager.active_job_for(msg, request.get("id"))
        signum = request.get("signum", signal.SIGTERM)
        if type(signum) is not int or not 0 < signum < signal.NSIG:
            raise RequestError(errno.EPROTO, f"invalid signal number {signum!r}")
        if job.state != State.RUN:
            raise RequestError(errno.EINVAL, "job is not running")
        self.manager.start.kill(job, signum)
        msg.respond({})
