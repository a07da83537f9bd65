"""The ``[prep]`` configuration table, read once and checked at start.

Keys and their Slurm names: ``plugins`` (PrEpPlugins), ``parameters`` (PrEpParameters),
``prolog``, ``epilog``, ``prolog-slurmctld``, ``epilog-slurmctld`` (Prolog, Epilog,
PrologSlurmctld, EpilogSlurmctld; a string or an array), ``timeout``, ``prolog-timeout``,
``epilog-timeout`` (PrologEpilogTimeout, PrologTimeout, EpilogTimeout; seconds or FSD),
``flags`` (PrologFlags), ``max-batch-requeue`` (MaxBatchRequeue), ``nohold-on-prolog-fail``
and ``requeue-delay`` (SchedulerParameters), ``cluster-name`` (ClusterName, default
``"corral"``) and ``slow-hook-threshold`` (how long a synchronous controller hook may hold the
event loop before it is logged, default 0.1 s), declared in `corral.config_keys`. Every problem
is a `ConfigError` naming the file and key. This module must not load plugins or run scripts.
"""

import math
import os
from dataclasses import dataclass

from ..config import Config

#: Slurm's default when PrEpPlugins is absent.
DEFAULT_PLUGINS = ("prep/script",)

#: Supported PrologFlags, by lower-case name; each maps to its canonical Slurm spelling.
_SUPPORTED_FLAGS = {name.lower(): name
                    for name in ("Alloc", "DeferBatch", "ForceRequeueOnFail", "NoHold", "Serial")}
#: Flags that imply Alloc, as in Slurm.
_IMPLY_ALLOC = frozenset({"DeferBatch", "ForceRequeueOnFail", "NoHold"})
_CONTAINMENT_FLAGS = {name.lower(): name for name in ("Contain", "RunInJob", "X11")}


@dataclass(frozen=True)
class PrepSettings:
    """``[prep]``, checked. Script paths are absolute (relative ones are taken from the
    configuration's directory, as slurmd reads them); a timeout of None means none."""

    plugins: tuple[str, ...] = DEFAULT_PLUGINS
    parameters: str = ""
    prolog: tuple[str, ...] = ()
    epilog: tuple[str, ...] = ()
    prolog_slurmctld: tuple[str, ...] = ()
    epilog_slurmctld: tuple[str, ...] = ()
    prolog_timeout: float | None = None
    epilog_timeout: float | None = None
    flags: frozenset[str] = frozenset()
    max_batch_requeue: int = 5
    nohold_on_prolog_fail: bool = False
    requeue_delay: float = 120.0
    cluster_name: str = "corral"
    slow_hook_threshold: float = 0.1
    conf_path: str | None = None
    conf_dir: str | None = None


def read(config: Config) -> PrepSettings:
    """Read and check ``[prep]`` of ``config``."""
    config.get_table("prep", {})  # refuses a [prep] that is not a table
    conf_dir = _conf_dir(config.path)
    timeout = _timeout(config, "prep.timeout", None)
    return PrepSettings(
        plugins=_plugins(config),
        parameters=config.get_str("prep.parameters", ""),
        prolog=_scripts(config, "prep.prolog", conf_dir),
        epilog=_scripts(config, "prep.epilog", conf_dir),
        prolog_slurmctld=_scripts(config, "prep.prolog-slurmctld", conf_dir),
        epilog_slurmctld=_scripts(config, "prep.epilog-slurmctld", conf_dir),
        prolog_timeout=_timeout(config, "prep.prolog-timeout", timeout),
        epilog_timeout=_timeout(config, "prep.epilog-timeout", timeout),
        flags=_flags(config),
        max_batch_requeue=_max_batch_requeue(config),
        nohold_on_prolog_fail=config.get_bool("prep.nohold-on-prolog-fail", False),
        requeue_delay=requeue_delay(config),
        cluster_name=_cluster_name(config),
        slow_hook_threshold=_finite_duration(config, "prep.slow-hook-threshold", 0.1),
        conf_path=config.path,
        conf_dir=conf_dir,
    )


def _conf_dir(path: str | None) -> str | None:
    if path is None:
        return None
    path = os.path.abspath(path)
    return path if os.path.isdir(path) else os.path.dirname(path)


def _plugins(config: Config) -> tuple[str, ...]:
    names = config.get_list("prep.plugins")
    if names is None:
        return DEFAULT_PLUGINS
    for index, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise config.error(f"prep.plugins[{index}]", f"expected a plugin name, got {name!r}")
    return tuple(names)


def _scripts(config: Config, key: str, conf_dir: str | None) -> tuple[str, ...]:
    value = config.get(key)
    if value is None:
        return ()
    entries = [value] if isinstance(value, str) else value
    if not isinstance(entries, list):
        raise config.error(key, "expected a path or an array of paths")
    paths = []
    for index, entry in enumerate(entries):
        where = key if isinstance(value, str) else f"{key}[{index}]"
        if not isinstance(entry, str) or not entry:
            raise config.error(where, f"expected a non-empty path, got {entry!r}")
        if not os.path.isabs(entry) and conf_dir is not None:
            entry = os.path.join(conf_dir, entry)
        paths.append(entry)
    return tuple(paths)


def _timeout(config: Config, key: str, default: float | None) -> float | None:
    """A timeout in seconds; 0 and infinity mean none (Slurm waits forever when unset)."""
    seconds = config.get_duration(key)
    if seconds is None:
        return default
    return seconds if 0 < seconds < math.inf else None


def requeue_delay(config: Config) -> float:
    """``[prep] requeue-delay``: seconds a requeued job waits before it may be allocated
    again, however it was requeued (by PrEp or by ``corral job requeue``)."""
    return _finite_duration(config, "prep.requeue-delay", 120.0)


def _finite_duration(config: Config, key: str, default: float) -> float:
    seconds = config.get_duration(key, default)
    if math.isinf(seconds):
        raise config.error(key, "must be finite")
    return seconds


def _flags(config: Config) -> frozenset[str]:
    names = config.get_list("prep.flags", [])
    flags = set()
    for index, name in enumerate(names):
        where = f"prep.flags[{index}]"
        if not isinstance(name, str):
            raise config.error(where, f"expected a flag name, got {name!r}")
        lowered = name.lower()
        if lowered in _CONTAINMENT_FLAGS:
            raise config.error(where, f"'{_CONTAINMENT_FLAGS[lowered]}' is not supported: "
                                      "corral does not contain jobs in cgroups yet")
        canonical = _SUPPORTED_FLAGS.get(lowered)
        if canonical is None:
            raise config.error(where, f"unknown flag '{name}' (expected one of "
                                      f"{', '.join(_SUPPORTED_FLAGS.values())})")
        flags.add(canonical)
    if flags & _IMPLY_ALLOC:
        flags.add("Alloc")
    return frozenset(flags)


def _max_batch_requeue(config: Config) -> int:
    value = config.get_int("prep.max-batch-requeue", 5)
    if value < 0:
        raise config.error("prep.max-batch-requeue", f"must not be negative, got {value}")
    return value


def _cluster_name(config: Config) -> str:
    name = config.get_str("prep.cluster-name", "corral")
    if not name:
        raise config.error("prep.cluster-name", "must not be empty")
    return name
