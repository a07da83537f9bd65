"""Fixtures for ``corral web``: a real web server in front of a real instance."""

import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from web_helpers import WebServer  # noqa: E402


@pytest.fixture
def make_web():
    """``make_web(inst, *options)``: a `WebServer` for that instance, its socket beside the
    instance's (reachable where the instance's is)."""
    started = []

    def make(inst, *options):
        server = WebServer(inst, os.path.join(os.path.dirname(inst.state_dir), "web.sock"),
                           *options)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def owner_token():
    def make(inst, name="test"):
        return inst.corral("token", "create", "--name", name).stdout.strip()

    return make
