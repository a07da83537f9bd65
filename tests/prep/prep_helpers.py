"""Helpers shared by the PrEp integration suites (Slurm's checklist, reference §6).

Jobs run for real (the hooks are about real nodes and processes), on ``--test-size`` instances
whose nodes share this machine's cores. Hook scripts record what they saw in files under the
test's directory; the tests read them back.
"""

import json

from corral import jobspec
from support import events, names, until, wait  # noqa: F401 (re-exported for the suite)


def spec(command=("true",), cwd="/tmp", **options) -> dict:
    return jobspec.build(list(command), cwd=str(cwd), **options)


def submit(client, command=("true",), urgency=16, **options) -> int:
    return client.submit(spec(command, **options), urgency=urgency)


def contexts(client, job_id, name) -> list[dict]:
    return [event.get("context") for event in events(client, job_id, name)]


def drained(client) -> dict[str, str]:
    """``{node: reason}`` of the drained nodes."""
    return {node["name"]: node["reason"] for node in client.rpc("resource.list")["nodes"]
            if node["drained"]}


def dmesg(client) -> str:
    return "\n".join(client.rpc("log.dmesg", {})["lines"])


def read_env(path) -> dict[str, str]:
    """The ``env`` output a hook script wrote to ``path``, without the shell's own ``PWD``."""
    with open(path) as file:
        variables = dict(line.rstrip("\n").split("=", 1) for line in file if "=" in line)
    variables.pop("PWD", None)
    return variables


def job_row(client, job_id) -> dict:
    return client.job(job_id)


def dump(value) -> str:
    return json.dumps(value, sort_keys=True)
