"""Helpers shared by the jobtap conformance suite (flux-core's checklist, area by area).

Jobs here are simulated (``system.exec.test.run_duration``) unless the test is about their
processes, and the instance is driven through the client API; the CLI is used where the CLI
itself is what a test pins.
"""

import json
import pathlib

import pytest

from corral import jobspec
from corral.client import RPCError
from support import (  # noqa: F401 (re-exported for the suite)
    GUEST,
    as_guest,
    events,
    guest_user,
    names,
    until,
    wait,
)

PLUGINS = pathlib.Path(__file__).resolve().parent.parent / "plugins"
EXAMPLES = str(PLUGINS.parent.parent / "examples" / "jobtap")


def plugin(name: str) -> str:
    """Absolute path of a test plugin in ``tests/plugins``."""
    return str(PLUGINS / name)


def spec(command=("true",), run="0", setattr=(), **options) -> dict:
    """A jobspec whose run is simulated for ``run`` (FSD), or really run with ``run=None``."""
    attributes = list(setattr)
    if run is not None:
        attributes.append(f"system.exec.test.run_duration={run}")
    return jobspec.build(list(command), cwd="/tmp", setattr=attributes, **options)


def submit(client, urgency=16, flags=0, **options) -> int:
    return client.submit(spec(**options), urgency=urgency, flags=flags)


def state(client, job_id) -> str:
    from corral.states import STATE_NAMES, State

    return STATE_NAMES[State(client.job(job_id)["state"])]


def load(client, path, conf=None, remove=None):
    payload = {"load": path}
    if conf is not None:
        payload["conf"] = conf
    if remove is not None:
        payload["remove"] = remove
    return client.rpc("job-manager.jobtap", payload)


def remove(client, name):
    return client.rpc("job-manager.jobtap", {"remove": name})


def loaded(client) -> list[str]:
    return client.rpc("job-manager.jobtap", {"query_only": True})["plugins"]


def query(client, name) -> dict:
    return client.rpc("job-manager.jobtap-query", {"name": name})


def dmesg(client, clear=False) -> list[str]:
    return client.rpc("log.dmesg", {"clear": clear})["lines"]


def rpc_error(call, *args, **kwargs) -> RPCError:
    """The RPCError ``call`` raises (fails the test if it succeeds)."""
    with pytest.raises(RPCError) as caught:
        call(*args, **kwargs)
    return caught.value


def config_file(tmp_path, text: str, name="corral.toml") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def json_lines(lines, marker) -> list:
    """The JSON documents logged after ``marker`` in dmesg lines, in order."""
    return [json.loads(line.split(marker, 1)[1]) for line in lines if marker in line]
