"""The jobtap conformance suite's helpers (`jobtap_helpers`) made importable: pytest runs
with ``--import-mode=importlib``, which puts no test directory on ``sys.path``; and the plugin
test kit's fixture, for a checkout whose installed corral predates its ``pytest11`` entry
point."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from corral.testing import corral_kit  # noqa: E402, F401

#: Suites whose plugins watch jobs run, run both with the node agents in the controller and
#: with a ``corral agent`` per node on hosts of their own (``placement``, tests/conftest.py):
#: plugins must see the same jobs either way.  (The others are about the job manager alone,
#: and also pass so, at some three seconds more a test; the examples' instance tests are
#: about their commands, their behaviour is tested in the plugin test kit.)
ON_BOTH_PLACEMENTS = frozenset({"test_jobtap_api.py", "test_jobtap_builtins.py",
                                "test_jobtap_perilog.py"})


def pytest_generate_tests(metafunc):
    if ("make_instance" in metafunc.fixturenames
            and metafunc.definition.path.name in ON_BOTH_PLACEMENTS):
        metafunc.parametrize("placement", ["local", "agents"], indirect=True)
