"""Instance configuration: TOML files, merged, with errors that name the file and the key.

This module owns reading the configuration (one file, or every ``*.toml`` in a directory, as
Flux reads its ``conf.d``), the typed getters every component uses to read its own section, and
the checks of the core sections: ``[access]``, ``[[resource.config]]`` and ``[exec]``; the
names of every key of corral's own tables are declared in `corral.config_keys`. It must not
know plugin sections: a plugin reads ``config.get("its-table")`` and reports problems with
``config.error(key, problem)``, which names the file that set the key.

Files of a directory are read in name order and their tables merge. Flux lets a later file
silently replace a value set earlier; corral refuses it instead, naming both files, since a key
set twice is almost always a mistake and the silent winner is hard to find.
"""

import copy
import datetime
import os
import re
import tomllib
from dataclasses import dataclass
from typing import Any

from corral import config_keys, fsd, hostlist, idset

_MISSING = object()


class ConfigError(Exception):
    """A configuration problem; ``str()`` is ``<file>: <dotted.key>: <problem>``."""

    def __init__(self, path: str | None, key: str | None, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        super().__init__(": ".join(part for part in (path, key, problem) if part))


class Config:
    """A read-only view of the merged configuration, and the one place its errors are made.

    ``data`` is the merged dict; callers must not change it.
    """

    def __init__(
        self,
        data: dict | None = None,
        path: str | None = None,
        origins: dict[str, str] | None = None,
    ) -> None:
        self._data = data if data is not None else {}
        self._path = path
        self._origins = origins or {}

    @property
    def data(self) -> dict:
        return self._data

    @property
    def path(self) -> str | None:
        """The file or directory the configuration was loaded from (None: no configuration)."""
        return self._path

    def error(self, key: str, problem: str) -> ConfigError:
        """Return the error for ``problem`` with ``key``, naming the file that set the key.

        ``key`` is dotted and may index arrays, e.g. ``resource.config[1].cores``; the file is
        that of the longest enclosing key some file set, else the configuration path.
        """
        parts = re.sub(r"\[\d+\]", "", key).split(".")
        for length in range(len(parts), 0, -1):
            origin = self._origins.get(".".join(parts[:length]))
            if origin is not None:
                return ConfigError(origin, key, problem)
        return ConfigError(self._path, key, problem)

    def with_default(self, key: str, value: Any) -> "Config":
        """This configuration, with ``value`` at dotted ``key`` unless a file sets it (the
        system instance lets guests in unless its configuration says otherwise)."""
        if self.get(key, _MISSING) is not _MISSING:
            return self
        data = copy.deepcopy(self._data)
        table = data
        *tables, name = key.split(".")
        for part in tables:
            table = table.setdefault(part, {})
        table[name] = value
        return Config(data, self._path, self._origins)

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value at dotted ``key``, or ``default`` when it is not set."""
        value: Any = self._data
        parts = key.split(".")
        for depth, part in enumerate(parts):
            if not isinstance(value, dict):
                enclosing = ".".join(parts[:depth])
                raise self.error(enclosing, f"expected a table, got {type_name(value)}")
            value = value.get(part, _MISSING)
            if value is _MISSING:
                return default
        return value

    def get_bool(self, key: str, default: bool = False) -> bool:
        return self._get_typed(key, default, (bool,), "a boolean")

    def get_str(self, key: str, default: str | None = None) -> str | None:
        return self._get_typed(key, default, (str,), "a string")

    def get_int(self, key: str, default: int | None = None) -> int | None:
        return self._get_typed(key, default, (int,), "an integer")

    def get_number(self, key: str, default: float | None = None) -> float | None:
        return self._get_typed(key, default, (int, float), "a number")

    def get_list(self, key: str, default: list | None = None) -> list | None:
        return self._get_typed(key, default, (list,), "an array")

    def get_table(self, key: str, default: dict | None = None) -> dict | None:
        return self._get_typed(key, default, (dict,), "a table")

    def get_duration(self, key: str, default: float | None = None) -> float | None:
        """Return seconds from an FSD string (``"1.5m"``) or a number of seconds."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.error(key, f"expected a duration (FSD string or seconds), got "
                                  f"{type_name(value)}")
        try:
            return fsd.parse(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def _get_typed(self, key: str, default: Any, types: tuple[type, ...], wanted: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            return default
        # A Python bool is an int, a TOML boolean is not a number.
        if isinstance(value, bool) != (bool in types) or not isinstance(value, types):
            raise self.error(key, f"expected {wanted}, got {type_name(value)}")
        return value


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """One host of ``[[resource.config]]``: the core and gpu ids it offers, its properties."""

    name: str
    cores: tuple[int, ...]
    gpus: tuple[int, ...]
    properties: tuple[str, ...] = ()


def load(path: str | os.PathLike | None) -> Config:
    """Load the configuration at ``path``: a TOML file, or a directory of ``*.toml`` files.

    ``None`` gives an empty configuration. The core sections are checked here, so that a bad
    value stops the instance at start rather than when it is first read.
    """
    if path is None:
        return Config()
    path = os.fspath(path)
    if os.path.isdir(path):
        try:
            names = sorted(name for name in os.listdir(path) if name.endswith(".toml"))
        except OSError as exc:
            raise ConfigError(path, None, exc.strerror or str(exc)) from None
        files = [os.path.join(path, name) for name in names]
    elif os.path.exists(path):
        files = [path]
    else:
        raise ConfigError(path, None, "no such file or directory")
    data: dict = {}
    origins: dict[str, str] = {}
    for file in files:
        _merge(data, _read_toml(file), origins, file, "")
    config = Config(data, path, origins)
    config_keys.check(config)
    allow_guest_user(config)
    resource_config(config)
    kill_timeout(config)
    return config


def allow_guest_user(config: Config) -> bool:
    """``[access] allow-guest-user``: may users other than the owner connect (default no)."""
    return config.get_bool("access.allow-guest-user", False)


def kill_timeout(config: Config) -> float:
    """``[exec] kill-timeout``: seconds between SIGTERM and SIGKILL of a job (default 5)."""
    return config.get_duration("exec.kill-timeout", 5.0)


#: A node property: no operator characters of RFC 31's or of ``--requires`` syntax.
_PROPERTY = re.compile(r"[A-Za-z0-9_.-]+")


def resource_config(config: Config) -> list[NodeConfig]:
    """``[[resource.config]]``: the hosts and their cores and gpus, in hostlist order.

    Each entry is ``{hosts = "node[0-3]", cores = "0-255", gpus = "0-1", properties =
    ["bigmem"]}``; ``hosts`` and ``cores`` are required. A host named by several entries gets
    the union of their ids and properties, as Flux merges ``resource.config`` entries.
    Properties are what RFC 31 constraints (``--requires``) and queues' ``requires`` match.
    """
    entries = config.get("resource.config")
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise config.error(
            "resource.config", f"expected an array of tables, got {type_name(entries)}"
        )
    merged: dict[str, tuple[set[int], set[int], set[str]]] = {}
    for index, entry in enumerate(entries):
        where = f"resource.config[{index}]"
        if not isinstance(entry, dict):
            raise config.error(where, f"expected a table, got {type_name(entry)}")
        hosts = _decode_entry(config, entry, f"{where}.hosts", hostlist.expand, required=True)
        cores = _decode_entry(config, entry, f"{where}.cores", idset.decode, required=True)
        gpus = _decode_entry(config, entry, f"{where}.gpus", idset.decode, required=False)
        if not hosts:
            raise config.error(f"{where}.hosts", "names no host")
        if not cores:
            raise config.error(f"{where}.cores", "names no core")
        properties = entry.get("properties", [])
        if not isinstance(properties, list) or not all(
                isinstance(name, str) and _PROPERTY.fullmatch(name) for name in properties):
            raise config.error(f"{where}.properties", "expected an array of property names "
                                                      "(letters, digits, '_', '-', '.')")
        for host in hosts:
            host_cores, host_gpus, host_properties = merged.setdefault(host,
                                                                       (set(), set(), set()))
            host_cores.update(cores)
            host_gpus.update(gpus)
            host_properties.update(properties)
    return [
        NodeConfig(host, tuple(sorted(host_cores)), tuple(sorted(host_gpus)),
                   tuple(sorted(host_properties)))
        for host, (host_cores, host_gpus, host_properties) in merged.items()
    ]


def _decode_entry(config: Config, entry: dict, key: str, decode, required: bool) -> list:
    value = entry.get(key.rpartition(".")[2], _MISSING)
    if value is _MISSING:
        if required:
            raise config.error(key, "required key is missing")
        return []
    if not isinstance(value, str):
        raise config.error(key, f"expected a string, got {type_name(value)}")
    try:
        return decode(value)
    except ValueError as exc:
        raise config.error(key, str(exc)) from None


def _read_toml(file: str) -> dict:
    try:
        with open(file, "rb") as stream:
            return tomllib.load(stream)
    except OSError as exc:
        raise ConfigError(file, None, exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise ConfigError(file, None, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, None, str(exc)) from None


def _merge(target: dict, source: dict, origins: dict[str, str], file: str, prefix: str) -> None:
    """Merge ``source`` from ``file`` into ``target``; tables merge, other values may not."""
    for key, value in source.items():
        dotted = f"{prefix}{key}"
        if key not in target:
            target[key] = value
            _record_origins(value, origins, file, dotted)
        elif isinstance(target[key], dict) and isinstance(value, dict):
            _merge(target[key], value, origins, file, f"{dotted}.")
        else:
            raise ConfigError(file, dotted, f"already set in {origins[dotted]}")


def _record_origins(value: Any, origins: dict[str, str], file: str, dotted: str) -> None:
    origins[dotted] = file
    if isinstance(value, dict):
        for key, child in value.items():
            _record_origins(child, origins, file, f"{dotted}.{key}")


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as ``(host, port)``; ValueError if it is not."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdecimal() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:9100), got '{text}'")
    return host, int(port)


def type_name(value: Any) -> str:
    """Name the TOML type of ``value`` for error messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, datetime.datetime):
        return "datetime"
    if isinstance(value, datetime.date):
        return "date"
    if isinstance(value, datetime.time):
        return "time"
    return type(value).__name__
