"""corral's plugin test kit: a pytest plugin for authors of jobtap and PrEp plugins.

Installed with corral, it is registered through the ``pytest11`` entry point, so its fixture
is there in any test once corral is installed (a ``conftest.py`` may also ``from
corral.testing import corral_kit``).  ``corral_kit(config="...", nodes=2, cores_per_node=8,
plugins=[...])`` makes a `Kit`: the real job manager, scheduler, store, jobtap and PrEp
hosts on a virtual clock, with execution simulated (a site's prolog and epilog scripts run);
every kit a test made is closed after it, and a plugin failure that no step reported yet
fails the test then.  See docs/testing.md.

The kit itself (`corral.testing.kit`) is imported when first used, not when pytest loads this
plugin: every pytest run on a machine with corral installed loads it.
"""

import pytest

__all__ = ["EPOCH", "Kit", "PluginFailure", "RPCFailure", "corral_kit"]


def __getattr__(name):
    if name in ("EPOCH", "Kit", "PluginFailure", "RPCFailure"):
        from . import kit

        return getattr(kit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@pytest.fixture
def corral_kit():
    """``corral_kit(**options)`` makes a `Kit` (options as `Kit`'s)."""
    from .kit import Kit, PluginFailure

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
