"""Finding a PrEp plugin by its configured name and checking it is one.

A name may carry Slurm's ``prep/`` prefix. ``script`` is the builtin `ScriptPlugin`; any other
name is looked up as an entry point of the group ``corral.prep``, then as an importable module,
and a name that ends in ``.py`` or holds a ``/`` as a file (relative to the configuration's
directory). The plugin must export every PrEp name, a ``plugin_type`` whose major is ``prep``
and, if it sets ``plugin_version``, ``prep.VERSION``. Every problem is a `PrepError` whose
message is one line naming the plugin and the cause. This module must not call ``init`` or
any hook.

Modules and entry points are imported as Python imports them, once per process, so module
state is shared by every host of the process; a file is executed afresh by each load.
"""

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass, field

from .constants import VERSION, CallType
from .script import ScriptPlugin

ENTRY_POINT_GROUP = "corral.prep"

#: The functions a PrEp plugin must export, in Slurm's order.
FUNCTIONS = ("init", "fini", "prep_p_register_callbacks", "prep_p_prolog", "prep_p_epilog",
             "prep_p_prolog_slurmctld", "prep_p_epilog_slurmctld", "prep_p_required")


class PrepError(Exception):
    """A PrEp plugin cannot be loaded or initialised; the daemon must not start."""

    def __init__(self, plugin: str, cause: str):
        self.plugin = plugin
        self.cause = " ".join(cause.split())
        super().__init__(f"prep plugin '{plugin}': {self.cause}")


@dataclass
class LoadedPlugin:
    """One plugin of the chain: its configured name, the object exporting the PrEp names,
    its identity and its ``prep_p_required`` answers (filled in at init)."""

    name: str
    target: object
    plugin_name: str
    plugin_type: str
    plugin_version: int | None
    required: dict[CallType, bool] = field(default_factory=dict)


def load(name: str, settings, controller: bool, node: bool) -> LoadedPlugin:
    """Find, import and check the plugin configured as ``name``."""
    short = name[len("prep/"):] if name.startswith("prep/") else name
    if short == "script":
        target = ScriptPlugin(settings, controller, node)
    else:
        target = _find(name, short, settings.conf_dir)
    return _check(name, target)


def _find(name: str, short: str, conf_dir: str | None):
    if short.endswith(".py") or "/" in short:
        return _import_file(name, os.path.join(conf_dir or os.getcwd(), short))
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=short):
        try:
            return entry_point.load()
        except Exception as exc:
            raise PrepError(name, f"entry point {entry_point.value} failed to load: "
                                  f"{type(exc).__name__}: {exc}") from exc
    if all(part.isidentifier() for part in short.split(".")):
        try:
            return importlib.import_module(short)
        except ModuleNotFoundError as exc:
            if not (exc.name and (short + ".").startswith(exc.name + ".")):
                raise PrepError(name, f"import failed: {exc}") from exc
        except Exception as exc:
            raise PrepError(name, f"import failed: {type(exc).__name__}: {exc}") from exc
    raise PrepError(name, f"not found: no builtin, '{ENTRY_POINT_GROUP}' entry point, module "
                          "or file of that name")


def _import_file(name: str, path: str):
    if not os.path.isfile(path):
        raise PrepError(name, f"not found: no such file {path}")
    path = os.path.abspath(path)
    module_name = "corral_prep_" + "".join(c if c.isalnum() else "_" for c in path)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PrepError(name, f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    # Registered while it runs, as an import would: dataclasses and pickle look modules up.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise PrepError(name, f"import failed: {type(exc).__name__}: {exc}") from exc
    return module


def _check(name: str, target) -> LoadedPlugin:
    plugin_name = getattr(target, "plugin_name", None)
    if not isinstance(plugin_name, str):
        raise PrepError(name, "plugin_name is missing or not a string")
    plugin_type = getattr(target, "plugin_type", None)
    if not isinstance(plugin_type, str):
        raise PrepError(name, "plugin_type is missing or not a string")
    major, slash, minor = plugin_type.partition("/")
    if major != "prep" or not slash or not minor:
        raise PrepError(name, f"plugin_type '{plugin_type}' is not a PrEp plugin type (it must "
                              "be 'prep/<name>')")
    version = getattr(target, "plugin_version", None)
    if version is not None and (type(version) is not int or version != VERSION):
        raise PrepError(name, f"plugin_version {version!r} does not match this corral's "
                              f"prep.VERSION {VERSION}")
    for function in FUNCTIONS:
        value = getattr(target, function, None)
        if value is None:
            raise PrepError(name, f"{function} is missing (every PrEp function must exist: "
                                  "stub those the plugin does not need)")
        if not callable(value):
            raise PrepError(name, f"{function} is not callable")
    return LoadedPlugin(name, target, plugin_name, plugin_type, version)
