"""Helpers shared by the PrEp integration suites (Slurm's checklist, reference §6).

Jobs run for real (the hooks are about real nodes and processes), on ``--test-size`` instances
whose nodes share this machine's cores. Hook scripts record what they saw in files under the
test's directory; the tests read them back.
"""

import json
import time

from corral import jobspec


def spec(command=("true",), cwd="/tmp", **options) -> dict:
    return jobspec.build(list(command), cwd=str(cwd), **options)


def submit(client, command=("true",), urgency=16, **options) -> int:
    return client.submit(spec(command, **options), urgency=urgency)


def names(client, job_id) -> list[str]:
    return [event["name"] for event in client.eventlog(job_id)]


def events(client, job_id, name) -> list[dict]:
    return [event for event in client.eventlog(job_id) if event["name"] == name]


def contexts(client, job_id, name) -> list[dict]:
    return [event.get("context") for event in events(client, job_id, name)]


def wait(client, job_id, name="clean", timeout=20) -> dict:
    return client.wait_event(job_id, name, timeout)


def until(check, timeout=15.0, interval=0.02):
    """Poll ``check()`` until it returns something true; return that, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        time.sleep(interval)


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
