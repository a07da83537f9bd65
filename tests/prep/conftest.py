"""Fixtures for PrEp unit tests: real scripts in temporary directories, real corral jobs."""

import os
import pathlib
import pwd
import sys
import textwrap
import threading

import pytest

from corral import jobspec, resource_set
from corral.jobmanager.job import Job
from corral.testing import corral_kit  # noqa: F401 (for a corral installed without the kit)


@pytest.fixture
def make_script(tmp_path):
    """``make_script(name, body, mode=0o755)``: write a script (a ``#!/bin/sh`` line is added
    unless ``body`` has one) under ``tmp_path/scripts`` and return its absolute path."""
    directory = tmp_path / "scripts"
    directory.mkdir(exist_ok=True)

    def make(name: str, body: str, mode: int = 0o755) -> str:
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(body).lstrip("\n")
        if not text.startswith("#!"):
            text = "#!/bin/sh\n" + text
        path.write_text(text)
        os.chmod(path, mode)
        return str(path)

    return make


@pytest.fixture
def make_job():
    """``make_job(**options)``: a corral `Job` as the job manager holds it in RUN, built from
    ``jobspec.build`` options, with R on the given ``nodes`` (names) and ``cores``/``gpus``
    per node. Other keyword arguments set job fields (``restart_count``, ``waitstatus``...)."""

    def make(job_id=42, nodes=("node0",), cores=((0,),), gpus=None, starttime=1700000000.0,
             expiration=1700003600.0, command=("true",), environment=None, fields=None,
             **build_options):
        spec = jobspec.build(list(command), environment=environment, **build_options)
        request = jobspec.validate(spec)
        job = Job(job_id, os.getuid(), 1699999990.0, jobspec.redact(spec), request)
        job.environment = spec["attributes"]["system"].get("environment")
        gpus = gpus or tuple(() for _ in nodes)
        allocation = {rank: (list(cores[rank]), list(gpus[rank])) for rank in range(len(nodes))}
        job.R = resource_set.build(allocation, list(nodes), starttime, expiration)
        job.nodelist = resource_set.nodelist(job.R)
        job.t_run = starttime
        for name, value in (fields or {}).items():
            setattr(job, name, value)
        return job

    return make


@pytest.fixture
def me():
    """``(user name, uid, gid)`` of the user running the tests (jobs are submitted as them)."""
    entry = pwd.getpwuid(os.getuid())
    return entry.pw_name, entry.pw_uid, entry.pw_gid


class Deliveries:
    """A controller's ``deliver`` for tests: collects ``(kind, rc, job_id, timed_out)`` from
    any thread and lets a test wait for them."""

    def __init__(self):
        self.items = []
        self._condition = threading.Condition()

    def __call__(self, kind, rc, job_id, timed_out):
        with self._condition:
            self.items.append((kind, rc, job_id, timed_out))
            self._condition.notify_all()

    def wait(self, count, timeout=5.0):
        with self._condition:
            reached = self._condition.wait_for(lambda: len(self.items) >= count, timeout)
        assert reached, f"expected {count} deliveries, got {self.items}"
        return list(self.items)


@pytest.fixture
def deliveries():
    return Deliveries()


# --- integration: real instances with [prep] configured -------------------------------------

#: Suites about node hooks, run both with the node agents in the controller and with a
#: ``corral agent`` per node on hosts of their own (``placement``, tests/conftest.py): PrEp
#: must behave the same on one machine and on many.
ON_BOTH_PLACEMENTS = frozenset({"test_prep_prolog.py", "test_prep_epilog.py",
                                "test_prep_hook_environments.py", "test_prep_examples.py",
                                "test_prep_plugins.py", "test_prep_timeouts.py"})
#: Those run a third time with the agent processes of a persistent instance on this machine,
#: which read the instance's configuration for their node hooks.
ON_AGENT_PROCESSES = frozenset({"test_prep_prolog.py", "test_prep_epilog.py",
                                "test_prep_hook_environments.py"})


def pytest_generate_tests(metafunc):
    name = metafunc.definition.path.name
    if "make_instance" in metafunc.fixturenames and name in ON_BOTH_PLACEMENTS:
        placements = ["local", "agents"] + (["processes"] if name in ON_AGENT_PROCESSES else [])
        metafunc.parametrize("placement", placements, indirect=True)

# The helpers of these suites (`prep_helpers`) made importable, as pytest runs with
# ``--import-mode=importlib``.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


@pytest.fixture
def prep_instance(make_instance, tmp_path):
    """``prep_instance(prep_toml, test_size=3, extra="")``: an instance whose configuration
    is ``[prep]`` with ``prep_toml`` (plus ``extra`` TOML after it)."""

    def make(prep_toml: str = "", test_size: int = 3, extra: str = "", name="corral.toml",
             env=None):
        config = tmp_path / name
        config.write_text("[prep]\n" + textwrap.dedent(prep_toml) + "\n" + extra)
        return make_instance(test_size=test_size, config=config, env=env)

    return make


@pytest.fixture
def prep_kit(corral_kit):  # noqa: F811 (the fixture imported above)
    """``prep_kit(prep_toml, nodes=3)``: the plugin test kit with ``[prep]`` configured as
    `prep_instance` configures it: the hooks' scripts run for real, the jobs' runs are
    simulated, on a virtual clock (conformance rules that need no task process)."""

    def make(prep_toml: str = "", nodes: int = 3):
        return corral_kit(nodes=nodes, config="[prep]\n" + textwrap.dedent(prep_toml))

    return make
