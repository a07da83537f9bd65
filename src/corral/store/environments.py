"""Job environments stored once: a shared base plus each job's own variables.

A job's environment is most of its jobspec (the submitter's whole environment, often 8 KiB
and more), and the jobs of one submission carry nearly the same one: ``corral submit --cc``
copies it into every job and adds ``CORRAL_JOB_CC``.  So the store keeps an environment once
(a *base*, keyed by a hash of its owner and its text, so that users never share one) and,
for each job, the key of its base and the few
variables in which the job differs from it (its *own*).  The job's environment is
``{**base, **own}``.

`EnvironmentSplitter` makes that split for a run of jobs, such as one submit request: a job
whose environment equals the last base costs one dict comparison, one that adds or changes a
few variables a pass over them; anything else (a variable removed, many changed) becomes the
next base.  It keeps no state beyond its run, so every run stores the bases it uses again
(an ``INSERT OR IGNORE``), which is what keeps a base a purge has just deleted from being
named by a new job.
"""

import hashlib

from ..jsoncodec import dumps

#: A job that differs from the base in more variables than this starts a new base.
MAX_OWN_VARIABLES = 16


def environment_key(userid: int, text: str) -> bytes:
    """The store key of the JSON text of an environment of user ``userid`` (a 128-bit hash
    of both)."""
    return hashlib.blake2b(f"{userid}\0{text}".encode(), digest_size=16).digest()


class EnvironmentSplitter:
    """Splits the environments of a run of jobs of user ``userid`` into stored bases and own
    variables; ``store_base(key, text)`` stores a base (it may already be stored)."""

    __slots__ = ("store_base", "userid", "base", "base_key")

    def __init__(self, store_base, userid: int):
        self.store_base = store_base
        self.userid = userid
        self.base = None
        self.base_key = None

    def split(self, environment: dict | None) -> tuple[bytes | None, dict | None]:
        """``(base key, own variables)`` for one job's environment (``(None, None)``
        without one); the own variables are None when there are none."""
        if environment is None:
            return None, None
        base = self.base
        if base is not None:
            if environment is base or environment == base:
                return self.base_key, None
            own = {name: value for name, value in environment.items()
                   if base.get(name) != value}
            if len(own) <= MAX_OWN_VARIABLES:
                added = sum(1 for name in own if name not in base)
                if len(environment) - added == len(base):  # nothing of the base removed
                    return self.base_key, own
        text = dumps(environment)
        self.base = environment
        self.base_key = environment_key(self.userid, text)
        self.store_base(self.base_key, text)
        return self.base_key, None


def join(base: dict, own: dict | None) -> dict:
    """A job's environment from its base and its own variables."""
    return {**base, **own} if own else base
