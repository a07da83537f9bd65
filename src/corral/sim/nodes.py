"""The nodes of a simulation: their PrEp prologs and epilogs, run at once on the loop.

A simulation starts no process and no agent, but a site's PrEp plugins must meet the same
hooks as on its machine: exec sends each allocated node its ``prolog`` and ``epilog`` request,
and `SimulatedNode` answers as a node agent would, calling the PrEp host's node hook on the
loop's thread and taking no virtual time (in an agent it runs in a thread of its own; the
scripts ``prep/script`` runs in the plugin test kit hold the loop, not the virtual clock).  The
launch credential is checked as an agent checks it, so a plugin sees the same one.  A node
whose prolog fails is drained by the controller's PrEp rules, as on a real machine.
"""

import logging

from ..prep import ERROR, JobEnv

log = logging.getLogger("corral.sim")


class SimulatedNode:
    def __init__(self, rank: int, name: str, prep_host, key, send):
        self.rank = rank
        self.name = name
        self.prep = prep_host
        self.key = key
        self.send = send

    def handle(self, msg: dict):
        kind = msg["type"]
        if kind not in ("prolog", "epilog"):
            return  # a kill: no task runs here, and a hook has ended before it comes
        status, error = self._run(kind, msg)
        self.send({"type": f"{kind}-done", "job": msg["job"], "rank": self.rank,
                   "status": status, "error": error})

    def _run(self, kind: str, msg: dict) -> tuple[int, str | None]:
        job_id = msg["job"]
        job_env = JobEnv.from_dict(msg["job_env"])
        cred = self.key.receive(msg["cred"])
        if not cred.verify() or cred.job_id != job_id:
            return ERROR, "invalid launch credential"
        hook = self.prep.prolog if kind == "prolog" else self.prep.epilog
        try:
            return hook(job_env, cred), None
        except Exception as exc:
            log.exception("simulated node %s: job %d: %s", self.name, job_id, kind)
            return ERROR, f"{kind} could not run: {exc}"
