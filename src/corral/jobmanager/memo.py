"""Memos: user annotations a job's owner attaches by request (``corral job memo``), or with
the job at submit (a submit item's ``memo``), so that a job that ends at once has them too.

A ``memo`` event carries the keys to set (JSON null removes one); the event is applied to
the job's ``user`` annotations, so memos survive a restart with the eventlog.
"""

import errno

from ..broker.message import RequestError
from ..jsoncodec import dumps
from ..limits import MAX_DEPTH, MAX_MEMO, too_deep


def problem(memo) -> tuple[int, str] | None:
    """Why ``memo`` cannot be posted (errno and one sentence), None when it can."""
    if not isinstance(memo, dict) or not memo:
        return errno.EPROTO, "memo needs a non-empty 'memo' object"
    if too_deep(memo):
        return errno.EINVAL, f"memo nests arrays and objects more than {MAX_DEPTH} levels deep"
    if len(dumps(memo)) > MAX_MEMO:
        return errno.E2BIG, f"memo is over the {MAX_MEMO} character limit"
    return None


class Memo:
    def __init__(self, manager):
        self.manager = manager

    def serve(self, msg):
        request = msg.payload_object()
        job = self.manager.active_job_for(msg, request.get("id"))
        memo = request.get("memo")
        refused = problem(memo)
        if refused is not None:
            raise RequestError(*refused)
        self.manager.events.post(job, "memo", memo)
        msg.respond({})
