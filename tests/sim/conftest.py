"""The ``corral_sim`` fixture: run ``corral sim`` (the real command) and read its trace.
`sim_helpers` is made importable: pytest runs with ``--import-mode=importlib``, which puts no
test directory on ``sys.path``."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from sim_helpers import DATA, read_swf  # noqa: E402


@pytest.fixture
def corral_sim(tmp_path):
    """Run ``corral sim TRACE ARGS... -o OUT --json``: ``(summary, {job: start time})``."""

    def run(trace, *args):
        out = tmp_path / "out.swf"
        completed = subprocess.run(
            [sys.executable, "-m", "corral", "sim", os.path.join(DATA, trace), *args,
             "-o", str(out), "--json"],
            capture_output=True, text=True, timeout=300)
        assert completed.returncode == 0, completed.stderr
        starts = {number: submit + wait
                  for number, (submit, wait, *_rest) in read_swf(out).items()}
        return json.loads(completed.stdout), starts

    return run
