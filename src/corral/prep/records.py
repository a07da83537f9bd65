"""What PrEp hooks are given about a job: `JobEnv` on a node, `JobRecord` on the controller.

Both are frozen snapshots (tuples and read-only mappings over private copies), so a plugin may
hand one to a worker thread and read it later while the job moves on. `JobEnv` is Slurm's
job_env_t, the per-node part of a launch request; it travels to node agents as a dict
(`to_dict` / `from_dict`). `JobRecord` is the part of Slurm's job_record_t a controller hook
reads, the fields the ``PrologSlurmctld`` environment is built from.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

from . import jobinfo
from .environment import gpu_env


def _freeze_mapping(record, name: str) -> None:
    """Replace a mapping field by a read-only view of a private copy."""
    object.__setattr__(record, name, MappingProxyType(dict(getattr(record, name) or {})))


@dataclass(frozen=True)
class JobEnv:
    """A job as one node's prolog and epilog see it (Slurm's job_env_t).

    ``node_name`` is the node the hook runs on (Slurm's SLURMD_NODENAME). ``exit_code`` is the
    job's raw wait status, for the epilog (None: unknown, no exit code variables are set);
    ``derived_ec`` the highest exit status of the job's steps (corral jobs have none: 0).
    ``gres_env`` holds the GPU variables with this node's host-wide ids; ``spank_env`` the
    user-supplied variables, which reach scripts only under a ``SPANK_`` prefix.
    """

    job_id: int
    uid: int
    gid: int
    user_name: str
    work_dir: str
    node_name: str
    node_list: str
    partition: str | None = None
    exit_code: int | None = None
    derived_ec: int = 0
    gres_env: Mapping[str, str] = field(default_factory=dict)
    spank_env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        _freeze_mapping(self, "gres_env")
        _freeze_mapping(self, "spank_env")

    @classmethod
    def from_job(cls, job, node_name: str) -> "JobEnv":
        """The `JobEnv` of corral job ``job`` on its node ``node_name`` (a name in its R)."""
        node = next((node for node in jobinfo.nodes(job) if node.name == node_name), None)
        if node is None:
            raise ValueError(f"{node_name} is not in the allocation of job {job.id}")
        user_name, gid, _group = jobinfo.user(job.userid)
        return cls(
            job_id=job.id,
            uid=job.userid,
            gid=gid,
            user_name=user_name,
            work_dir=jobinfo.work_dir(job),
            node_name=node_name,
            node_list=jobinfo.node_list(job),
            partition=job.queue,
            exit_code=job.waitstatus or 0,
            gres_env=gpu_env(node.gpus),
            spank_env=jobinfo.spank_env(job),
        )

    def to_dict(self) -> dict:
        """A JSON-ready dict, for a launch or terminate message to a node agent."""
        return {
            item.name: dict(value) if isinstance(value, Mapping) else value
            for item in fields(self)
            for value in (getattr(self, item.name),)
        }

    @classmethod
    def from_dict(cls, data: dict) -> "JobEnv":
        return cls(**data)


@dataclass(frozen=True)
class JobRecord:
    """A read-only copy of the controller's record of a job (Slurm's job_record_t, in part).

    ``cpus_per_node`` has one count per node, in ``node_list`` order. ``time_limit`` is in
    seconds (0: unlimited); ``start_time`` and ``end_time`` are epoch seconds (``end_time`` 0:
    no limit). ``exit_code`` is the job's raw wait status (0 until it is known), for the
    epilog; ``derived_ec`` the highest exit status of its steps (corral jobs have none: 0).
    """

    job_id: int
    name: str
    uid: int
    gid: int
    user_name: str
    group_name: str
    work_dir: str
    node_list: str = ""
    cpus_per_node: tuple[int, ...] = ()
    ntasks: int = 0
    exclusive: bool = False
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    comment: str | None = None
    constraints: str | None = None
    restart_count: int = 0
    time_limit: float = 0.0
    start_time: int = 0
    end_time: int = 0
    std_in: str | None = "/dev/null"
    std_out: str | None = None
    std_err: str | None = None
    exit_code: int = 0
    derived_ec: int = 0
    spank_env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "cpus_per_node", tuple(self.cpus_per_node))
        _freeze_mapping(self, "spank_env")

    @property
    def num_nodes(self) -> int:
        return len(self.cpus_per_node)

    @classmethod
    def from_job(cls, job, output_dir: str | None = None) -> "JobRecord":
        """The `JobRecord` of corral job ``job``; ``output_dir`` is where corral keeps job
        output that the user did not redirect (it names ``SLURM_JOB_STDOUT`` then)."""
        user_name, gid, group_name = jobinfo.user(job.userid)
        request = job.request
        start_time, end_time = jobinfo.times(job)
        std_out, std_err = jobinfo.output_paths(job, output_dir)
        return cls(
            job_id=job.id,
            name=job.name or "",
            uid=job.userid,
            gid=gid,
            user_name=user_name,
            group_name=group_name,
            work_dir=jobinfo.work_dir(job),
            node_list=jobinfo.node_list(job),
            cpus_per_node=tuple(len(node.cores) for node in jobinfo.nodes(job)),
            ntasks=job.ntasks,
            exclusive=bool(request and request.exclusive),
            partition=job.queue,
            account=request.account if request else None,
            qos=request.qos if request else None,
            comment=request.comment if request else None,
            constraints=jobinfo.constraints(job),
            restart_count=job.restart_count,
            time_limit=request.duration if request else 0.0,
            start_time=start_time,
            end_time=end_time,
            std_out=std_out,
            std_err=std_err,
            exit_code=job.waitstatus or 0,
            spank_env=jobinfo.spank_env(job),
        )
