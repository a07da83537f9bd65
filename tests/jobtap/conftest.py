"""The jobtap conformance suite's helpers (`jobtap_helpers`) made importable: pytest runs
with ``--import-mode=importlib``, which puts no test directory on ``sys.path``; and the plugin
test kit's fixture, for a checkout whose installed corral predates its ``pytest11`` entry
point."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from corral.testing import corral_kit  # noqa: E402, F401
