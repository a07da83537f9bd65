"""The launch credential: what the controller vouches for about a job, signed.

A `Cred` is Slurm's slurm_cred_t: the controller fills it from its job record and signs it
with an HMAC key (`CredentialKey`) it generates at start; node agents, which hold the same key
(in-process, or handed over the agent's authenticated channel), receive it as a dict and
accept work only if ``cred.verify()`` holds. It is also what node scripts read their job
metadata from. This module must not decide what an agent does with a bad credential.
"""

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field, fields, replace

from ..idset import encode as encode_idset
from . import jobinfo


@dataclass(frozen=True)
class Cred:
    """A signed launch credential (``prep_p_prolog(job_env, cred)``).

    Per-node tuples follow ``node_list`` order: ``cpus_per_node`` counts cores,
    ``gpus_per_node`` holds idsets of host-wide GPU ids (``""`` without GPUs) and
    ``memory_per_node`` is in MB (0: not tracked; corral does not allocate memory yet).
    ``time_limit`` is in seconds (0: unlimited); ``start_time`` and ``end_time`` are epoch
    seconds (``end_time`` 0: no limit). ``std_out`` and ``std_err`` are the paths as the user
    gave them, templates unexpanded.
    """

    job_id: int
    uid: int
    gid: int
    user_name: str
    node_list: str
    cpus_per_node: tuple[int, ...] = ()
    gpus_per_node: tuple[str, ...] = ()
    memory_per_node: tuple[int, ...] = ()
    ntasks: int = 0
    exclusive: bool = False
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraints: str | None = None
    comment: str | None = None
    restart_count: int = 0
    time_limit: float = 0.0
    start_time: int = 0
    end_time: int = 0
    std_in: str | None = "/dev/null"
    std_out: str | None = None
    std_err: str | None = None
    signature: str = ""
    _key: "CredentialKey | None" = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        for name in ("cpus_per_node", "gpus_per_node", "memory_per_node"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def verify(self) -> bool:
        """Whether the controller signed exactly these contents (False for an unsigned cred
        or one not received through a `CredentialKey`)."""
        if self._key is None or not self.signature:
            return False
        return hmac.compare_digest(self.signature, self._key.digest(self))

    def to_dict(self) -> dict:
        """A JSON-ready dict with the signature, for a message to a node agent."""
        return {item.name: list(value) if isinstance(value, tuple) else value
                for item in fields(self) if item.name != "_key"
                for value in (getattr(self, item.name),)}

    @classmethod
    def from_job(cls, job, key: "CredentialKey", output_dir: str | None = None) -> "Cred":
        """The credential of corral job ``job``, signed with ``key``; ``output_dir`` is where
        corral keeps output the user did not redirect."""
        user_name, gid, _group = jobinfo.user(job.userid)
        nodes = jobinfo.nodes(job)
        request = job.request
        start_time, end_time = jobinfo.times(job)
        std_out, std_err = jobinfo.output_paths(job, output_dir)
        return key.sign(cls(
            job_id=job.id,
            uid=job.userid,
            gid=gid,
            user_name=user_name,
            node_list=jobinfo.node_list(job),
            cpus_per_node=tuple(len(node.cores) for node in nodes),
            gpus_per_node=tuple(encode_idset(node.gpus) for node in nodes),
            memory_per_node=tuple(0 for _node in nodes),
            ntasks=job.ntasks,
            exclusive=bool(request and request.exclusive),
            partition=job.queue,
            account=request.account if request else None,
            qos=request.qos if request else None,
            constraints=jobinfo.constraints(job),
            comment=request.comment if request else None,
            restart_count=job.restart_count,
            time_limit=request.duration if request else 0.0,
            start_time=start_time,
            end_time=end_time,
            std_out=std_out,
            std_err=std_err,
        ))


class CredentialKey:
    """The controller's secret for launch credentials, new at every controller start."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes | None = None):
        self._secret = secret if secret is not None else secrets.token_bytes(32)

    @property
    def secret(self) -> bytes:
        """The key itself, for node agents that run in other processes."""
        return self._secret

    def sign(self, cred: Cred) -> Cred:
        """``cred`` signed with this key (and able to verify itself)."""
        unsigned = replace(cred, signature="", _key=self)
        return replace(unsigned, signature=self.digest(unsigned))

    def receive(self, data: dict) -> Cred:
        """The `Cred` a node agent received as ``data``, checked against this key by
        ``verify()``. Raises ValueError when ``data`` is not a credential at all."""
        if not isinstance(data, dict) or "_key" in data:
            raise ValueError("malformed launch credential")
        try:
            return Cred(**data, _key=self)
        except TypeError as exc:
            raise ValueError(f"malformed launch credential: {exc}") from None

    def digest(self, cred: Cred) -> str:
        payload = {name: value for name, value in cred.to_dict().items() if name != "signature"}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def launch_token(self, start: dict) -> str:
        """The signature of a task start request: who runs what, where and as whom.

        A full `Cred` for every start would cost more than the start itself (its user and
        group lookups and canonical JSON); the token binds what an agent must not be
        tricked into (job, step, user, rank, tasks and their cores, command, working
        directory) with one HMAC.  The step number is bound too (empty for the job's own
        tasks): the agent reports a start's tasks under it, so a start replayed under
        another number would end, or be killed as, another step.
        """
        return hmac.new(self._secret, _start_payload(start), hashlib.sha256).hexdigest()

    def check_launch_token(self, start: dict) -> bool:
        token = start.get("token")
        return isinstance(token, str) and hmac.compare_digest(token, self.launch_token(start))


def _start_payload(start: dict) -> bytes:
    tasks = ";".join(f"{task['rank']}@{encode_idset(task['cores'])}" for task in start["tasks"])
    step = start.get("step")
    fields_ = (start["job"], "" if step is None else step, start["userid"], start["rank"],
               tasks, start["cwd"], *start["command"])
    return "\0".join(map(str, fields_)).encode()

