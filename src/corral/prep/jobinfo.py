"""What PrEp reads from corral's job record, in Slurm's terms.

The one place that knows both the job manager's `Job` (its redacted jobspec, `Request` and R)
and the Slurm words the PrEp records use: partition is the queue, account, qos and comment
come from ``attributes.system``, the nodes and their cores and gpus from R, user and group
names from the password and group databases. `JobRecord`, `JobEnv` and `Cred` are built from
these answers; nothing here changes the job.
"""

import grp
import json
import os
import pwd
from dataclasses import dataclass

from .. import hostlist, output, resource_set

#: Slurm names a uid or gid it cannot resolve "nobody"; the gid is that of nogroup.
_UNKNOWN_NAME = "nobody"
_UNKNOWN_GID = 65534


@dataclass(frozen=True, slots=True)
class Node:
    """One node of a job's allocation, in R's nodelist order."""

    name: str
    rank: int
    cores: tuple[int, ...]
    gpus: tuple[int, ...]


def system(job) -> dict:
    """The job's ``attributes.system`` (an empty dict when its jobspec is gone)."""
    jobspec = job.jobspec or {}
    return jobspec.get("attributes", {}).get("system", {})


def user(uid: int) -> tuple[str, int, str]:
    """``(user name, gid, group name)`` of ``uid``; unknown ids read as Slurm reads them."""
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return _UNKNOWN_NAME, _UNKNOWN_GID, _UNKNOWN_NAME
    try:
        group_name = grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        group_name = _UNKNOWN_NAME
    return entry.pw_name, entry.pw_gid, group_name


def nodes(job) -> list[Node]:
    """The job's nodes in R's nodelist order (R lists names for its ranks in ascending order)."""
    if job.R is None:
        return []
    by_rank = resource_set.ranks_of(job.R)
    names = hostlist.expand(resource_set.nodelist(job.R))
    return [
        Node(name, rank, tuple(by_rank[rank][0]), tuple(by_rank[rank][1]))
        for name, rank in zip(names, sorted(by_rank), strict=True)
    ]


def node_list(job) -> str:
    return resource_set.nodelist(job.R) if job.R is not None else ""


def times(job) -> tuple[int, int]:
    """``(start, end)`` in whole epoch seconds from R; end is 0 when the job has no limit."""
    if job.R is None:
        return int(job.t_run or 0), 0
    execution = job.R["execution"]
    return int(execution.get("starttime") or job.t_run or 0), int(execution.get("expiration") or 0)


def work_dir(job) -> str:
    """The job's working directory, as the node agents start its tasks."""
    return output.work_dir(system(job), job.userid)


def output_paths(job, output_dir: str | None) -> tuple[str | None, str | None]:
    """``(stdout, stderr)`` as Slurm exports them: the path the user gave, templates unexpanded,
    made absolute against the cwd; corral's own file (``<output_dir>/<id>.out``) when the user
    gave none; stderr only when the user named it (Slurm: only with ``--error``)."""
    redirects = system(job).get("shell", {}).get("options", {}).get("output", {})
    stdout = (redirects.get("stdout") or {}).get("path")
    stderr = (redirects.get("stderr") or {}).get("path")
    cwd = work_dir(job)
    if stdout is not None:
        stdout = os.path.join(cwd, stdout)
    elif output_dir is not None:
        stdout = os.path.join(output_dir, f"{job.id}.out")
    if stderr is not None:
        stderr = os.path.join(cwd, stderr)
    return stdout, stderr


def constraints(job) -> str | None:
    """The job's RFC 31 constraints as a Slurm feature expression where one exists.

    ``{"properties": ["a", "b"]}`` is Slurm's ``a&b``; anything richer (``or``, ``not``,
    hostlist and rank operators) has no Slurm spelling and is given as compact JSON.
    """
    value = system(job).get("constraints")
    if not value:
        return None
    properties = value.get("properties")
    if value.keys() == {"properties"} and isinstance(properties, list) and all(
        isinstance(item, str) for item in properties
    ):
        return "&".join(properties)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def spank_env(job) -> dict[str, str]:
    """The job's own ``SPANK_*`` environment variables: corral has no SPANK plugins, so these
    are what a user may hand to PrEp hooks (Slurm's job control environment)."""
    environment = job.environment or {}
    return {
        name: value
        for name, value in environment.items()
        if name.startswith("SPANK_") and isinstance(value, str)
    }
