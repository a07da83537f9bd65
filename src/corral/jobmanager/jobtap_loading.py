"""Loading, naming, removing and querying jobtap plugins, and their control services.

How a plugin gets into the stack (a builtin ``.name``, a ``.py`` file found directly or on the
search path, an entry point in ``corral.jobtap``, or an importable module), the names it is
known by, the checks and the ``conf.update`` that can refuse it, the replay of existing jobs
to a plugin loaded at run time, and removal with everything it leaves behind.  Mixed into
`JobtapHost`, which owns the plugin list this works on.
"""

import errno
import fnmatch
import importlib
import importlib.metadata
import importlib.util
import logging
import os
import sys

from ..broker.message import RequestError
from ..broker.roles import ROLE_OWNER
from ..states import State
from . import stack
from .plugin import Args, Plugin

log = logging.getLogger("corral.jobtap")

ENTRY_POINT_GROUP = "corral.jobtap"


def _fail(errnum, text):
    raise OSError(errnum, text)


class PluginLoading:
    def register_builtin(self, name: str, init, arg=None):
        """Make ``name`` (``.something``) loadable as a builtin whose ``plugin_init`` is
        ``init(p, arg)``: how a controller subsystem plugs its own builtin into the stack."""
        if not name.startswith(".") or "/" in name or name in self.extra_builtins:
            _fail(errno.EINVAL, f"{name}: invalid or duplicate builtin name")
        self.extra_builtins[name] = lambda p: init(p, arg)

    def builtin_names(self) -> list[str]:
        """Every builtin, in load order: the static ones, then those subsystems added."""
        # Imported when plugins load: the builtins use `corral.jobtap`, as outside plugins
        # do, and that module imports this package.
        from .plugins import BUILTINS

        return list(BUILTINS) + list(self.extra_builtins)

    def load(self, path: str, conf: dict | None = None) -> Plugin:
        """Load one plugin and append it to the stack (no replay; see `load_plugin`)."""
        from .plugins import BUILTINS

        if conf is not None and not isinstance(conf, dict):
            _fail(errno.EINVAL, "jobtap: plugin conf must be a JSON object")
        builtin = path.startswith(".") and "/" not in path
        if builtin:
            init = BUILTINS.get(path) or self.extra_builtins.get(path)
            if init is None:
                _fail(errno.ENOENT, f"{path}: No such plugin found")
            plugin = Plugin(self, path, conf, builtin=True)
            plugin.set_name(path)
            self._check_duplicate(path)
            self._init(plugin, init)
        else:
            init, fullpath, display_name, internal_name = self._find(path)
            plugin = Plugin(self, fullpath, conf, builtin=False)
            plugin.display_name = display_name
            self._check_duplicate(display_name)
            self._init(plugin, init)
            name = plugin.name
            if not name or "/" in name or "." in name:
                plugin.set_name(internal_name)
        error = self.conf_update(plugin, self.manager.config)
        if error is not None:
            self._discard(plugin)
            _fail(errno.EINVAL, error)
        self.plugins.append(plugin)
        self.invalidate_index()
        return plugin

    def _check_duplicate(self, display_name):
        for loaded in self.plugins:
            if loaded.display_name == display_name:
                _fail(errno.EEXIST, f"{display_name} already loaded")

    def _init(self, plugin, init):
        # The failure goes back to whoever loaded the plugin (corral jobtap load, corral
        # start) in one line; the log keeps its traceback, for -v and corral dmesg.
        try:
            rc = init(plugin)
        except Exception as exc:
            log.info("jobtap: %s: plugin_init raised %s: %s", plugin.display_name,
                     type(exc).__name__, exc, exc_info=exc)
            self._discard(plugin)
            _fail(errno.EINVAL, f"{plugin.path}: plugin_init failed: {type(exc).__name__}: {exc}")
        if rc is not None and (type(rc) is not int or rc < 0):
            self._discard(plugin)
            _fail(errno.EINVAL, f"{plugin.path}: plugin_init failed")

    def _discard(self, plugin):
        """Drop what a plugin registered: services, timers and tasks, plugin-global aux."""
        self.manager.broker.unregister_owner(plugin)
        plugin.services.clear()
        plugin.close_handle()
        plugin.destroy_aux()

    def _find(self, path):
        """Resolve a non-builtin plugin: a ``.py`` file, an entry point, or a module."""
        if path.endswith(".py") or "/" in path:
            if os.path.isabs(path) or path.startswith("./") or not self.search_path:
                candidates = [path]
            else:
                candidates = [os.path.join(directory, path) for directory in self.search_path]
            for candidate in candidates:
                if os.path.isfile(candidate):
                    module = _import_file(candidate)
                    init = getattr(module, "plugin_init", None)
                    if not callable(init):
                        _fail(errno.EINVAL, f"{candidate}: no plugin_init() found")
                    base = os.path.basename(candidate)
                    return init, os.path.abspath(candidate), base, base.split(".", 1)[0]
            _fail(errno.ENOENT, f"{path}: No such plugin found")
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=path):
            target = entry_point.load()
            init = target if callable(target) else getattr(target, "plugin_init", None)
            if not callable(init):
                _fail(errno.EINVAL, f"{path}: entry point has no plugin_init()")
            module = sys.modules.get(getattr(init, "__module__", ""), None)
            fullpath = getattr(module, "__file__", None) or entry_point.value
            return init, fullpath, path, path.rsplit(".", 1)[-1]
        if not all(part.isidentifier() for part in path.split(".")):
            _fail(errno.ENOENT, f"{path}: No such plugin found")
        try:
            module = importlib.import_module(path)
        except ModuleNotFoundError as exc:
            if exc.name and path.startswith(exc.name):
                _fail(errno.ENOENT, f"{path}: No such plugin found")
            _fail(errno.EINVAL, f"{path}: {exc}")
        except Exception as exc:
            _fail(errno.EINVAL, f"{path}: import failed: {type(exc).__name__}: {exc}")
        init = getattr(module, "plugin_init", None)
        if not callable(init):
            _fail(errno.EINVAL, f"{path}: no plugin_init() found")
        fullpath = getattr(module, "__file__", None) or path
        return init, fullpath, path, path.rsplit(".", 1)[-1]

    def conf_update(self, plugin, config) -> str | None:
        entries = self.entries("conf.update", [plugin])
        if not entries:
            return None
        args = Args({"conf": config.data if config is not None else {}})
        rc = stack.call_plugin(self, entries[0], "conf.update", args)
        if rc < 0:
            errmsg = args.out.get("errmsg")
            return errmsg if isinstance(errmsg, str) else (
                f"config rejected by {plugin.name} jobtap plugin"
            )
        return None

    def load_plugin(self, path: str, conf: dict | None = None) -> Plugin:
        """Load at run time: replay existing jobs to the new plugin, then reprioritize all."""
        plugin = self.load(path, conf)
        self.replay(plugin)
        self.manager.prioritize.reprioritize_all()
        return plugin

    def replay(self, plugin):
        """Tell a plugin loaded at run time about every active job, as flux-core does:
        ``job.create`` and ``job.new``, and for DEPEND jobs the dependency callbacks it
        handles and ``job.state.depend``; return codes and OUT are ignored."""
        jobs = list(self.manager.active.values())
        if plugin.load_sort_order == "state":
            jobs.sort(key=lambda job: (int(job.state), job.id))
        elif plugin.load_sort_order == "-state":
            jobs.sort(key=lambda job: (-int(job.state), job.id))
        only = [plugin]
        for job in jobs:
            for topic in ("job.create", "job.new"):
                self.stack_call(job, topic, Args(self.job_args(job)), only)
            if job.state == State.DEPEND:
                self.check_dependencies(job, plugin=plugin)
                self.stack_call(job, "job.state.depend", Args(self.job_args(job)), only)

    def remove(self, pattern: str):
        """Remove plugins by exact name, glob (a leading '.' must be explicit) or ``all``."""
        if pattern == "all":
            doomed = [p for p in self.plugins if not p.builtin]
        else:
            doomed = [
                p for p in self.plugins
                if p.display_name == pattern or _glob_match(p.display_name, pattern)
            ]
            if not doomed:
                _fail(errno.ENOENT, "Failed to find plugin to remove")
        for plugin in doomed:
            self._remove_one(plugin)

    def _remove_one(self, plugin):
        self.plugins.remove(plugin)
        self.invalidate_index()
        for job in self.manager.active.values():
            entries = (job.aux or {}).pop(plugin, None)
            for value, destructor in (entries or {}).values():
                if destructor is not None:
                    self.run_destructor(plugin, destructor, value)
            if job.subscribers and plugin in job.subscribers:
                job.subscribers.remove(plugin)
        self._discard(plugin)

    def find(self, name: str) -> Plugin | None:
        for plugin in self.plugins:
            if plugin.display_name == name:
                return plugin
        return None

    def query(self, name: str) -> dict:
        plugin = self.find(name)
        if plugin is None:
            _fail(errno.ENOENT, f"{name}: plugin not found")
        out = {"name": plugin.display_name, "path": "builtin" if plugin.builtin else plugin.path}
        args = Args({}, out)
        entries = self.entries("plugin.query", [plugin])
        if entries and stack.call_plugin(self, entries[0], "plugin.query", args) < 0:
            _fail(errno.EINVAL, "plugin.query failed")
        return args.out

    # --- control services -------------------------------------------------------------

    def register_services(self, broker):
        broker.register("job-manager.jobtap", self._serve_jobtap, ROLE_OWNER)
        broker.register("job-manager.jobtap-query", self._serve_query, ROLE_OWNER)

    def _serve_jobtap(self, msg):
        request = msg.payload_object()
        if request.get("query_only"):
            msg.respond({"plugins": [p.display_name for p in self.plugins]})
            return
        remove, load, conf = request.get("remove"), request.get("load"), request.get("conf")
        if remove is not None and not isinstance(remove, str):
            raise RequestError(errno.EPROTO, "remove must be a string")
        if load is not None and not isinstance(load, str):
            raise RequestError(errno.EPROTO, "load must be a string")
        if remove:
            self.remove(remove)
        if load:
            self.load_plugin(load, conf)
        msg.respond({})

    def _serve_query(self, msg):
        name = msg.payload_object().get("name")
        if not isinstance(name, str):
            raise RequestError(errno.EPROTO, "query needs a plugin name")
        msg.respond(self.query(name))


def _glob_match(name: str, pattern: str) -> bool:
    if name.startswith(".") and not pattern.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, pattern)


def _import_file(path: str):
    module_name = "corral_jobtap_" + "".join(c if c.isalnum() else "_" for c in
                                             os.path.abspath(path))
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        _fail(errno.EINVAL, f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickle look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        _fail(errno.EINVAL, f"{path}: import failed: {type(exc).__name__}: {exc}")
    return module
