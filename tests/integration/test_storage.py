"""The store does not grow without bound: an environment shared by the jobs of a submission
is stored once, purged jobs give their space back to the file system, a site can cap the
number of active jobs, and ``job purge -f`` removes what its dry run counted."""

import json
import os
import sqlite3

from corral.client import RPCError
from support import until

BIG = "x" * 50_000  # an environment variable that dwarfs everything else a job stores
SIMULATED = ["-S", "exec.test.run_duration=0"]


def store_path(instance):
    return os.path.join(instance.state_dir, "corral.db")


def database_bytes(instance) -> int:
    """The bytes the store's content takes (its pages in use, committed log included)."""
    with sqlite3.connect(store_path(instance)) as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    return (pages - free) * page_size


def file_bytes(instance) -> int:
    """The bytes the store's files take on disk."""
    path = store_path(instance)
    return sum(os.path.getsize(path + suffix) for suffix in ("", "-wal")
               if os.path.exists(path + suffix))


def environment_of(instance, job_id) -> dict:
    spec = json.loads(instance.corral("job", "info", job_id, "jobspec").stdout)
    return spec["attributes"]["system"]["environment"]


def test_jobs_of_one_submission_store_their_environment_once(make_instance):
    instance = make_instance(env={"BIG": BIG})
    before = database_bytes(instance)
    ids = instance.corral("submit", "--cc", "1-300", *SIMULATED, "true").stdout.split()
    instance.corral("queue", "drain")
    grown = database_bytes(instance) - before
    # Each of the 300 jobs carried 50 kB of environment: 15 MB if each kept its own copy.
    assert grown < 300 * len(BIG) / 10, f"{grown} bytes for 300 jobs"
    for cc, job_id in ((1, ids[0]), (150, ids[149]), (300, ids[299])):
        environment = environment_of(instance, job_id)
        assert environment["BIG"] == BIG
        assert environment["CORRAL_JOB_CC"] == str(cc)
        assert environment["PATH"] == os.environ["PATH"]


def test_pending_jobs_get_their_whole_environment_back_after_a_restart(make_instance):
    instance = make_instance(env={"BIG": BIG})
    instance.corral("queue", "stop")
    ids = instance.corral("submit", "--cc", "1-3", "--env=-*", "--env=BIG", "--env=PATH",
                          "sh", "-c", 'echo "$CORRAL_JOB_CC ${#BIG}"').stdout.split()
    instance.restart()
    instance.corral("queue", "start")
    for cc, job_id in enumerate(ids, 1):
        assert instance.corral("job", "attach", job_id).stdout == f"{cc} {len(BIG)}\n"
        assert environment_of(instance, job_id) == {"BIG": BIG, "PATH": os.environ["PATH"],
                                                    "CORRAL_JOB_CC": str(cc)}


def test_purged_jobs_give_their_space_back_to_the_file_system(make_instance):
    instance = make_instance(env={"BIG": BIG})
    ids = instance.corral("submit", "--cc", "1-2000", *SIMULATED,
                          "true").stdout.split()
    instance.corral("queue", "drain")
    full = file_bytes(instance)
    assert instance.corral("job", "purge", "--num-limit=0", "--batch=5000",
                           "-f").stdout == "purged 2000 jobs\n"
    until(lambda: file_bytes(instance) < full / 4, timeout=30)
    with sqlite3.connect(store_path(instance)) as db:
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
        assert db.execute("SELECT count(*) FROM environments").fetchone()[0] == 0
    missing = instance.corral("job", "info", ids[0], "jobspec", check=False)
    assert missing.returncode == 1
    # The instance goes on storing jobs after giving the space back.
    job_id = instance.submit(*SIMULATED, "true")
    instance.wait_inactive(job_id)
    assert environment_of(instance, job_id)["BIG"] == BIG


def test_store_from_before_shared_environments_is_converted_at_start(make_instance):
    instance = make_instance(env={"BIG": BIG})
    done = instance.submit("--env=-*", "--env=BIG", "true")
    instance.wait_inactive(done)
    instance.corral("queue", "stop")
    pending = instance.submit("--env=-*", "--env=BIG", "--env=PATH", "sh", "-c",
                              'echo "${#BIG}"')
    instance.stop()
    _write_store_as_before_shared_environments(store_path(instance))

    instance.start()
    assert "converting the job store to version 1" in instance.log()
    assert environment_of(instance, done) == {"BIG": BIG}
    assert environment_of(instance, pending)["BIG"] == BIG
    instance.corral("queue", "start")
    assert instance.corral("job", "attach", pending).stdout == f"{len(BIG)}\n"
    with sqlite3.connect(store_path(instance)) as db:
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        inline = db.execute("SELECT count(*) FROM jobs WHERE jobspec LIKE '%environment%'")
        assert inline.fetchone()[0] == 0


def _write_store_as_before_shared_environments(path):
    """Rewrite a store in the layout corral used before environments were shared: each
    jobspec whole, no environments table, no incremental vacuum."""
    db = sqlite3.connect(path, isolation_level=None)
    bases = dict(db.execute("SELECT key, environment FROM environments"))
    rows = db.execute("SELECT id, jobspec, environment_key, environment_own FROM jobs")
    for job_id, jobspec, key, own in rows.fetchall():
        spec = json.loads(jobspec)
        if key is not None:
            environment = {**json.loads(bases[key]), **json.loads(own or "{}")}
            spec["attributes"]["system"]["environment"] = environment
        db.execute("UPDATE jobs SET jobspec = ? WHERE id = ?", (json.dumps(spec), job_id))
    db.execute("DROP INDEX jobs_environment")
    db.execute("ALTER TABLE jobs DROP COLUMN environment_key")
    db.execute("ALTER TABLE jobs DROP COLUMN environment_own")
    db.execute("DROP TABLE environments")
    db.execute("PRAGMA user_version = 0")
    db.execute("PRAGMA auto_vacuum = NONE")
    db.execute("VACUUM")
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    db.close()


def test_max_jobs_refuses_submissions_beyond_the_limit_and_stores_nothing(make_instance,
                                                                          tmp_path):
    config = tmp_path / "limit.toml"
    config.write_text("[job-manager]\nmax-jobs = 3\n")
    instance = make_instance(config=config)
    instance.corral("queue", "stop")
    accepted = [instance.submit("true") for _ in range(2)]
    refused_message = ("corral submit: the instance already has 3 active jobs, its limit "
                       "([job-manager] max-jobs): submit again when some have ended\n")
    result = instance.corral("submit", "--cc", "1-3", "true", check=False)
    assert result.returncode == 1
    assert result.stdout.split() == [str(accepted[-1] + 1)]
    assert result.stderr == refused_message * 2
    with instance.client() as client:
        assert len(client.jobs(states=127)) == 3
    instance.restart()  # nothing of the refused jobs was stored either
    with instance.client() as client:
        assert len(client.jobs(states=127)) == 3
    instance.corral("queue", "start")
    instance.corral("queue", "drain")
    assert instance.submit("true") == accepted[-1] + 2  # refused jobs took no id


def test_max_jobs_must_be_positive(make_instance, tmp_path):
    config = tmp_path / "limit.toml"
    config.write_text("[job-manager]\nmax-jobs = 0\n")
    try:
        make_instance(config=config)
    except RuntimeError as exc:
        assert f"corral start: {config}: job-manager.max-jobs: must be at least 1" in str(exc)
    else:
        raise AssertionError("an instance started with max-jobs = 0")


def test_purge_force_removes_exactly_what_the_dry_run_counted(instance):
    ids = [instance.submit(*SIMULATED, "true") for _ in range(5)]
    instance.wait_inactive(ids[-1])
    dry = instance.corral("job", "purge", "--num-limit=0", "--batch=2")
    assert dry.stdout == "would purge (use --force) 2 jobs (3 more beyond --batch 2)\n"
    forced = instance.corral("job", "purge", "--num-limit=0", "--batch=2", "-f")
    assert forced.stdout == "purged 2 jobs (3 more beyond --batch 2)\n"
    with instance.client() as client:
        assert sorted(job["id"] for job in client.jobs(states=127)) == ids[2:]
        try:
            client.job(ids[0])
        except RPCError:
            pass
        else:
            raise AssertionError("the oldest job was not purged")
