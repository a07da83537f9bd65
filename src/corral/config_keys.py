"""Every key of corral's own configuration tables, declared once, and the check that refuses
any other (a typo such as ``allow-guest-users`` must stop start-up, not be ignored).

`SCHEMA` maps each table corral owns to its keys: a dict is a table and holds the keys it may
have, ``ANY_NAME`` standing for the names of a table of named tables (``[queues.NAME]``); a
one-item list is an array of such tables (``[[resource.config]]``); `VALUE` is a value whose
reader checks its type (a table corral does not look into, such as a jobtap plugin's
``conf``, is one too).  A key is added here once and read where it is used, with the typed
getters of `corral.config`.

Top-level tables not declared here belong to plugins (jobtap plugins get the whole
configuration, as Flux's do) and are not checked.  This module checks names only: whether a
value has the right type and range is its reader's business, and a value of the wrong shape
(a table where an array is declared) is left to that reader to report.
"""

VALUE = None
ANY_NAME = "*"

_JOB_SIZE = {"nnodes": VALUE, "ncores": VALUE, "ngpus": VALUE}
_LIMITS = {"duration": VALUE, "job-size": {"max": _JOB_SIZE, "min": _JOB_SIZE},
           "max-jobs-per-user": VALUE}

SCHEMA = {
    "access": {
        "allow-guest-user": VALUE,
        "max-connections": VALUE,
        "max-connections-per-user": VALUE,
    },
    "agents": {
        "listen": VALUE,
        "key-dir": VALUE,
        "heartbeat-interval": VALUE,
        "unresponsive-after": VALUE,
        "lost-after": VALUE,
        "max-requeue": VALUE,
        "connect": VALUE,
        "command": VALUE,
        "ssh": VALUE,
        "srun": VALUE,
        "socket": VALUE,
        "reattach-timeout": VALUE,
    },
    "exec": {"kill-timeout": VALUE},
    "metrics": {"listen": VALUE},
    "job-manager": {
        "plugins": [{"load": VALUE, "remove": VALUE, "conf": VALUE}],
        "plugin-path": VALUE,
        "slow-callback-threshold": VALUE,
        "callback-timeout": VALUE,
        "inactive-age-limit": VALUE,
        "inactive-num-limit": VALUE,
        "max-jobs": VALUE,
    },
    "sched": {"queue-policy": VALUE, "queue-depth": VALUE},
    "resource": {"config": [{"hosts": VALUE, "cores": VALUE, "gpus": VALUE,
                             "properties": VALUE}]},
    "policy": {
        "limits": _LIMITS,
        "jobspec": {"defaults": {"system": {"duration": VALUE, "queue": VALUE}}},
    },
    "queues": {
        ANY_NAME: {
            "queue-policy": VALUE,
            "requires": VALUE,
            "nodes": VALUE,
            "policy": {
                "limits": _LIMITS,
                "jobspec": {"defaults": {"system": {"duration": VALUE}}},
            },
        },
    },
    "prep": dict.fromkeys((
        "plugins", "parameters", "prolog", "epilog", "prolog-slurmctld", "epilog-slurmctld",
        "timeout", "prolog-timeout", "epilog-timeout", "flags", "max-batch-requeue",
        "nohold-on-prolog-fail", "requeue-delay", "cluster-name", "slow-hook-threshold",
    ), VALUE),
}


def check(config) -> None:
    """Refuse the first key of a corral table that `SCHEMA` does not declare: a
    `corral.config.ConfigError` naming the file, the key and the keys that exist."""
    for name, value in config.data.items():
        if name in SCHEMA:
            _check(config, value, SCHEMA[name], name)


def _check(config, value, schema, where: str) -> None:
    if isinstance(schema, list) and isinstance(value, list):
        for index, item in enumerate(value):
            _check(config, item, schema[0], f"{where}[{index}]")
    elif isinstance(schema, dict) and isinstance(value, dict):
        for key, child in value.items():
            if ANY_NAME in schema:
                _check(config, child, schema[ANY_NAME], f"{where}.{key}")
            elif key in schema:
                _check(config, child, schema[key], f"{where}.{key}")
            else:
                raise config.error(f"{where}.{key}", "unknown key (expected one of "
                                                     f"{', '.join(sorted(schema))})")

