"""The ``network`` fixture: hosts in network namespaces on this machine (see `netns`),
removed at the end of each test whatever its outcome."""

import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import netns  # noqa: E402


@pytest.fixture
def network():
    if os.geteuid() != 0:
        pytest.fail("the network namespace tests need root")
    netns.remove_stale()
    network = netns.Network()
    try:
        yield network
    finally:
        network.close()
