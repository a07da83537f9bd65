"""Purging inactive jobs: removing them from memory and from the store for good.

``corral job purge`` removes inactive jobs older than an age limit, or beyond a count limit
(oldest first), or by id; without ``--force`` it only says how many it would remove, as
``flux job purge`` does.  ``[job-manager] inactive-age-limit`` and ``inactive-num-limit`` make
the instance purge by itself.  Plugins hear of each purged job in ``job.inactive-remove``.
The output files kept with a purged job and its steps are removed too (those the user named
are the user's, and stay).
"""

import errno
import logging
import time

from .. import output
from ..broker.message import RequestError

log = logging.getLogger("corral.job-manager")

#: How often the configured limits are applied, and how many jobs one pass may remove (a
#: pass holds the event loop; a large backlog is worked off over several passes).
AUTOMATIC_PURGE_INTERVAL = 60.0
PURGE_BATCH = 1000


class Purge:
    def __init__(self, manager, config):
        self.manager = manager
        self.age_limit = config.get_duration("job-manager.inactive-age-limit", None)
        self.num_limit = config.get_int("job-manager.inactive-num-limit", None)
        if self.num_limit is not None and self.num_limit < 0:
            raise config.error("job-manager.inactive-num-limit", "must be 0 or more")
        self._timer = None

    def start(self):
        if self.age_limit is not None or self.num_limit is not None:
            self._timer = self.manager.loop.call_later(AUTOMATIC_PURGE_INTERVAL, self._tick)

    def stop(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self):
        count = len(self.purge(self.select(self.age_limit, self.num_limit, PURGE_BATCH)))
        if count:
            log.info("purged %d inactive jobs", count)
        self._timer = self.manager.loop.call_later(AUTOMATIC_PURGE_INTERVAL, self._tick)

    def select(self, age_limit=None, num_limit=None, batch=None) -> list[int]:
        """Inactive job ids over the limits, oldest first (by the time they became
        inactive), at most ``batch`` of them."""
        inactive = self.manager.inactive
        ordered = sorted(inactive.values(), key=lambda job: (job.t_inactive or 0, job.id))
        chosen = []
        if num_limit is not None and len(ordered) > num_limit:
            chosen = ordered[: len(ordered) - num_limit]
        if age_limit is not None:
            cutoff = time.time() - age_limit
            old = [job for job in ordered[len(chosen):] if (job.t_inactive or 0) < cutoff]
            chosen.extend(old)
        ids = [job.id for job in chosen]
        return ids[:batch] if batch else ids

    def purge(self, ids) -> list[int]:
        manager = self.manager
        purged = []
        for job_id in ids:
            job = manager.inactive.pop(job_id, None)
            if job is None:
                continue
            manager.jobtap.call(job, "job.inactive-remove")
            manager.store.delete_job(job_id)
            purged.append(job_id)
        if purged:
            # Off the event loop: a pass may unlink thousands of files.
            manager.loop.run_in_executor(None, self._remove_output, purged)
        return purged

    def _remove_output(self, job_ids):
        try:
            output.remove_kept(self.manager.output_dir, job_ids)
        except OSError as exc:
            log.warning("purge: cannot remove the output kept with %d jobs: %s",
                        len(job_ids), exc)

    def serve(self, msg):
        request = msg.payload_object()
        age_limit = request.get("age_limit")
        num_limit = request.get("num_limit")
        ids = request.get("jobs")
        batch = request.get("batch", 50)
        if age_limit is not None and (not isinstance(age_limit, int | float) or age_limit < 0):
            raise RequestError(errno.EPROTO, "age_limit must be a number of seconds >= 0")
        if num_limit is not None and (type(num_limit) is not int or num_limit < 0):
            raise RequestError(errno.EPROTO, "num_limit must be an integer >= 0")
        if type(batch) is not int or batch < 1:
            raise RequestError(errno.EPROTO, "batch must be a positive integer")
        if ids is not None:
            if not isinstance(ids, list) or not all(type(i) is int for i in ids):
                raise RequestError(errno.EPROTO, "jobs must be an array of job ids")
            for job_id in ids:
                if job_id in self.manager.active:
                    raise RequestError(errno.EINVAL, f"cannot purge active job {job_id}")
                if job_id not in self.manager.inactive:
                    raise RequestError(errno.ENOENT, f"unknown job id {job_id}")
            chosen = list(dict.fromkeys(ids))
            matched = len(chosen)
        else:
            # The dry run counts exactly what --force would remove: the same selection, the
            # same batch; ``matched`` says how many more a further pass would take.
            selected = self.select(age_limit, num_limit, None)
            chosen = selected[:batch]
            matched = len(selected)
        if not request.get("force"):
            msg.respond({"count": len(chosen), "matched": matched, "purged": False})
            return
        purged = self.purge(chosen)
        msg.respond({"count": len(purged), "matched": matched, "purged": True})
