"""The kit's fixture, for a checkout whose installed corral predates its ``pytest11`` entry
point (an installed corral registers it by itself)."""

from corral.testing import corral_kit  # noqa: F401
