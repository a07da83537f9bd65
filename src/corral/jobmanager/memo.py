"""Memos: user annotations a job's owner attaches by request (``corral job memo``).

A ``memo`` event carries the keys to set (JSON null removes one); the event is applied to
the job's ``user`` annotations, so memos survive a restart with the eventlog.
"""

import errno

from ..broker.message import RequestError
from ..jsoncodec import dumps
from ..limits import MAX_DEPTH, MAX_MEMO, too_deep


class Memo:
    def __init__(self, manager):
        self.manager = manager

    def serve(self, msg):
        request = msg.payload_object()
        job = self.manager.active_job_for(msg, request.get("id"))
        memo = request.get("memo")
        if not isinstance(memo, dict) or not memo:
            raise RequestError(errno.EPROTO, "memo needs a non-empty 'memo' object")
        if too_deep(memo):
            raise RequestError(errno.EINVAL, f"memo nests arrays and objects more than "
                                             f"{MAX_DEPTH} levels deep")
        if len(dumps(memo)) > MAX_MEMO:
            raise RequestError(errno.E2BIG, f"memo is over the {MAX_MEMO} character limit")
        self.manager.events.post(job, "memo", memo)
        msg.respond({})
