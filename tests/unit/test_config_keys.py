"""The declared keys of corral's tables: typos are refused naming file, key and the keys that
exist; plugins' tables and conf are theirs; every key the code reads is declared."""

import pathlib
import re

import pytest

from corral import config, config_keys
from corral.config import ConfigError

SRC = pathlib.Path(config.__file__).resolve().parent
#: A literal dotted key given to a configuration getter or error: config.get_int("a.b", ...).
READ = re.compile(r"(?<!`)config\.(?:get\w*|error)\(\s*\"([a-z][\w.-]*)\"")


def load_text(tmp_path, text):
    path = tmp_path / "corral.toml"
    path.write_text(text)
    return config.load(path)


def declared(key: str) -> bool:
    schema = config_keys.SCHEMA
    for part in re.sub(r"\[\d+\]", "", key).split("."):
        if isinstance(schema, list):
            schema = schema[0]
        if not isinstance(schema, dict):
            return False
        schema = schema.get(config_keys.ANY_NAME, schema.get(part, False))
        if schema is False:
            return False
    return True


def test_every_key_the_code_reads_is_declared():
    read = {match for path in SRC.rglob("*.py") for match in READ.findall(path.read_text())}
    assert {"job-manager.max-jobs", "prep.nohold-on-prolog-fail", "sched.queue-policy"} <= read
    assert [key for key in sorted(read) if not declared(key)] == []


@pytest.mark.parametrize(("text", "key", "expected"), [
    ("[access]\nallow-guest-users = true\n", "access.allow-guest-users",
     "allow-guest-user, max-connections, max-connections-per-user"),
    ('[exec]\nkill-timout = "2s"\n', "exec.kill-timout", "kill-timeout"),
    ("[job-manager]\nmax-job = 3\n", "job-manager.max-job",
     "callback-timeout, inactive-age-limit, inactive-num-limit, max-jobs, plugin-path, "
     "plugins, slow-callback-threshold"),
    ('[sched]\npolicy = "easy"\n', "sched.policy", "queue-depth, queue-policy"),
    ('[queues.batch]\nqueue_policy = "easy"\n', "queues.batch.queue_policy",
     "nodes, policy, queue-policy, requires"),
    ('[policy.limits]\nduraton = "1h"\n', "policy.limits.duraton",
     "duration, job-size, max-jobs-per-user"),
    ("[policy.access]\nallow-user = [1]\n", "policy.access", "jobspec, limits"),
    ('[job-manager]\nplugins = [{ lod = "x.py" }]\n', "job-manager.plugins[0].lod",
     "conf, load, remove"),
    ('[resource]\nexclude = "0"\n', "resource.exclude", "config"),
    ("[agents]\nheartbeat = 1\n", "agents.heartbeat",
     "command, connect, heartbeat-interval, key-dir, listen, lost-after, max-requeue, "
     "reattach-timeout, socket, srun, ssh, unresponsive-after"),
])
def test_an_unknown_key_names_the_file_the_key_and_the_keys_that_exist(tmp_path, text, key,
                                                                     expected):
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text)
    assert str(caught.value) == (
        f"{tmp_path / 'corral.toml'}: {key}: unknown key (expected one of {expected})")


def test_the_known_keys_and_the_plugins_tables_load(tmp_path):
    loaded = load_text(tmp_path, """
[access]
allow-guest-user = true
max-connections = 100
max-connections-per-user = 10
[agents]
heartbeat-interval = "1s"
unresponsive-after = "5s"
lost-after = "20s"
max-requeue = 2
[exec]
kill-timeout = "2s"
[job-manager]
max-jobs = 10
callback-timeout = "5s"
slow-callback-threshold = "50ms"
inactive-age-limit = "1d"
inactive-num-limit = 100
plugin-path = "/opt/plugins"
plugins = [{ load = "mine.py", conf = { anything = { goes = 1 } } }, { remove = ".history" }]
[sched]
queue-policy = "easy"
queue-depth = 64
[policy.limits]
duration = "1h"
[policy.limits.job-size.max]
ncores = 8
[policy.jobspec.defaults.system]
queue = "batch"
duration = "10m"
[queues.batch]
queue-policy = "conservative"
requires = ["batch"]
[queues.batch.policy.limits.job-size.min]
nnodes = 1
[queues.debug.policy.jobspec.defaults.system]
duration = "1m"
[[resource.config]]
hosts = "n[0-1]"
cores = "0-3"
gpus = "0"
[prep]
requeue-delay = "1s"
[myplugin]
whatever-it = "wants"
""")
    assert loaded.get("myplugin.whatever-it") == "wants"
