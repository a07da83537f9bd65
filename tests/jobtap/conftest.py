"""The jobtap conformance suite's helpers (`jobtap_helpers`) made importable: pytest runs
with ``--import-mode=importlib``, which puts no test directory on ``sys.path``."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
