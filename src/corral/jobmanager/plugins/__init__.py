"""Builtin jobtap plugins, loaded at job-manager start in this order.

Each builtin is a small module that uses only the public `corral.jobtap` API, exactly as an
outside plugin would; the builtins are that API's first users and its examples.
"""

from . import priority_default

#: name -> plugin_init, in load order (``.priority-default`` first of all, as in Flux).
BUILTINS = {
    ".priority-default": priority_default.plugin_init,
}
