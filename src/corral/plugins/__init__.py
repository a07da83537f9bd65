"""Jobtap plugins shipped with corral that are not builtins: site policy a site could have
written itself, off until loaded by module name (``corral jobtap load
corral.plugins.fairshare``).

They import only what any outside plugin may import (`corral.jobtap`, and the jobspec, FSD and
R helpers), so each doubles as an example of the public API.
"""
