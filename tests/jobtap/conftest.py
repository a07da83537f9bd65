"""Fixtures of the jobtap conformance suite, and `jobtap_helpers` made importable (pytest
runs with ``--import-mode=importlib``, which puts no test directory on ``sys.path``)."""

import os
import pathlib
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


@pytest.fixture
def guest_instance(make_instance):
    """``guest_instance(config_text="")``: an instance that guests may use, its socket in a
    directory they can reach, with ``[access] allow-guest-user = true`` plus ``config_text``."""
    made = []

    def make(config_text=""):
        shared = tempfile.mkdtemp(prefix="corral-jobtap-", dir="/tmp")
        os.chmod(shared, 0o755)
        config = pathlib.Path(shared) / "guest.toml"
        config.write_text("[access]\nallow-guest-user = true\n" + config_text)
        instance = make_instance(state_dir=os.path.join(shared, "state"), config=config)
        os.chmod(instance.state_dir, 0o755)
        made.append((shared, instance))
        return instance

    yield make
    for shared, instance in made:
        instance.stop()
        shutil.rmtree(shared, ignore_errors=True)
