"""`corral.plugins.fairshare` in a real instance: a user's usage lowers the priority of that
user's next job, so another user's job starts first; `corral share` shows it; usage survives
a restart through the plugin's usage file."""

import os

from jobtap_helpers import as_guest, events, spec, submit, until, wait

from corral.states import State


def _config(usage_file) -> str:
    return ("[[job-manager.plugins]]\n"
            'load = "corral.plugins.fairshare"\n'
            f'conf = {{ interval = "0.2s", weight-age = 0, usage-file = "{usage_file}" }}\n')


def _cores(client) -> int:
    return sum(node["ncores"] for node in client.rpc("resource.list")["nodes"])


def _share_rows(instance) -> dict:
    """``corral share -P -n`` as {(account, user): (raw usage, fair-share factor)}."""
    rows = {}
    for line in instance.corral("share", "-P", "-n").stdout.splitlines():
        account, user, _raw_shares, _norm_shares, raw_usage, _effective, factor = line.split("|")
        rows[account.strip(), user or None] = (int(raw_usage), float(factor) if factor else None)
    return rows


def test_heavy_usage_lowers_a_users_priority_and_another_users_job_starts_first(
        guest_instance, tmp_path):
    usage_file = tmp_path / "usage.json"
    instance = guest_instance(_config(usage_file))
    with instance.client() as client:
        cores = _cores(client)
        heavy = submit(client, run="1s", ntasks=cores)
        wait(client, heavy)
        instance.corral("queue", "stop")
        mine = submit(client, ntasks=cores)
        theirs = as_guest(instance.uri, lambda guest: guest.submit(spec(ntasks=cores)))
        for job_id in (mine, theirs):
            until(lambda job_id=job_id: client.job(job_id)["state"] == State.SCHED)
        # The next tick sees both users: half the shares each, all usage the owner's.
        until(lambda: client.job(theirs)["priority"] > client.job(mine)["priority"])
        instance.corral("queue", "start")
        wait(client, mine)
        wait(client, theirs)
        assert events(client, theirs, "alloc")[0]["timestamp"] < events(
            client, mine, "alloc")[0]["timestamp"]
    rows = _share_rows(instance)
    assert rows["root", None][0] >= cores  # at least `cores` core-seconds, decayed a little
    owner_usage, owner_factor = rows["default", "root"]
    guest_usage, guest_factor = rows["default", "corral-guest"]
    assert owner_usage >= cores and guest_usage == 0
    assert owner_factor < guest_factor
    listing = instance.corral("share").stdout.splitlines()
    assert listing[0].split() == ["Account", "User", "RawShares", "NormShares", "RawUsage",
                                  "EffectvUsage", "FairShare"]
    assert listing[2].startswith("root ")
    until(lambda: os.path.exists(usage_file))
    instance.restart()
    after = _share_rows(instance)
    assert after["default", "root"][0] >= cores - 1  # decayed, not lost


def test_share_lists_pending_jobs_factors_and_fails_in_one_line_without_the_plugin(
        instance):
    result = instance.corral("share", check=False)
    assert (result.returncode, result.stderr) == (
        1, "corral share: the fair-share plugin is not loaded "
           "(corral jobtap load corral.plugins.fairshare)\n")
    instance.corral("jobtap", "load", "corral.plugins.fairshare", "weight-urgency=10",
                    "weight-size=0", "weight-queue=0", "weight-age=0")
    instance.corral("queue", "stop")
    with instance.client() as client:
        held = submit(client, urgency=20)
        wait(client, held, "priority")
        assert client.job(held)["priority"] == 100000 + 40
        lines = instance.corral("share", "--jobs").stdout.splitlines()
        assert lines[0].split() == ["JOBID", "QUEUE", "USER", "ACCOUNT", "PRIORITY", "AGE",
                                    "FAIRSHARE", "JOBSIZE", "QUEUEPRIO", "URGENCY"]
        assert lines[1].split() == [str(held), "root", "default", "100040", "0", "100000",
                                    "0", "0", "40"]
        client.cancel(held)
        wait(client, held)
    result = instance.corral("jobtap", "load", "--remove=corral.plugins.fairshare",
                             "corral.plugins.fairshare", "half-life=never", check=False)
    assert result.returncode == 1
    assert "fairshare: half-life: invalid duration 'never'" in result.stderr


def test_a_usage_file_that_cannot_be_written_refuses_the_load_and_a_later_failure_is_one_line(
        instance, tmp_path):
    missing = tmp_path / "missing" / "usage.json"
    result = instance.corral("jobtap", "load", "corral.plugins.fairshare",
                             f"usage-file={missing}", check=False)
    assert result.returncode == 1
    assert (f"fairshare: usage-file {missing} cannot be written: No such file or directory"
            in result.stderr)
    assert "Traceback" not in result.stderr
    assert "corral.plugins.fairshare" not in instance.corral("jobtap", "list").stdout
    kept = tmp_path / "kept"
    kept.mkdir()
    instance.corral("jobtap", "load", "corral.plugins.fairshare",
                    f"usage-file={kept / 'usage.json'}")
    assert (kept / "usage.json").exists()  # written at load
    (kept / "usage.json").unlink()
    kept.rmdir()
    removed = instance.corral("jobtap", "remove", "corral.plugins.fairshare")
    assert "destructor raised" not in removed.stderr
    log = instance.dmesg()
    assert f"fairshare: usage-file {kept / 'usage.json'}: No such file or directory" in log
    assert "destructor raised" not in log
