"""corral's plugin test kit: a pytest plugin for authors of jobtap plugins.

Installed with corral, it is registered through the ``pytest11`` entry point, so its fixture
is there in any test once corral is installed (a test may also ``from corral.testing import
corral_kit``).  ``corral_kit(config="...", nodes=2, cores_per_node=8, plugins=[...])`` makes
a `Kit`: the real job manager, scheduler, store and jobtap host on a virtual clock, with
execution simulated; every kit a test made is closed after it, and a plugin failure that no
step reported yet fails the test then.  See docs/testing.md.
"""

import pytest

from .kit import EPOCH, Kit, PluginFailure, RPCFailure

__all__ = ["EPOCH", "Kit", "PluginFailure", "RPCFailure", "corral_kit"]


@pytest.fixture
def corral_kit():
    """``corral_kit(**options)`` makes a `Kit` (options as `Kit`'s)."""
    made = []

    def make(**options) -> Kit:
        made.append(Kit(**options))
        return made[-1]

    yield make
    failures = []
    for kit in made:
        try:
            kit.check()
        except PluginFailure as failure:
            failures.append(str(failure))
        finally:
            kit.close()
    if failures:
        pytest.fail(failures[0], pytrace=False)
