"""Liveness under crashes, hanging plugins, full disks and abusive clients: the controller
restarts from whatever its store holds, keeps serving while a plugin hangs, says why it
cannot store, and stays fair to everyone while one guest abuses it."""

import sqlite3

from support import until

IGNORE_SIGTERM = ["sh", "-c", "trap '' TERM; sleep 300"]


def test_restart_after_a_crash_with_jobs_in_cleanup_succeeds_at_once(make_instance, tmp_path):
    config = tmp_path / "slow-kill.toml"
    config.write_text('[exec]\nkill-timeout = "60s"\n')
    inst = make_instance(config=config)
    jobs = [inst.submit(*IGNORE_SIGTERM) for _ in range(2)]
    with inst.client() as client:
        for job_id in jobs:
            client.wait_event(job_id, "start", 10)
        inst.corral("cancel", *jobs)
        until(lambda: all(client.job(job_id)["state_name"] == "CLEANUP" for job_id in jobs))
    inst.kill()
    inst.start()  # one start, whatever the store holds
    with inst.client() as client:
        for job_id in jobs:
            client.wait_event(job_id, "clean", 10)
            assert client.job(job_id)["result_name"] == "CANCELED"
        fresh = inst.submit("true")
        client.wait_event(fresh, "clean", 10)
        assert client.job(fresh)["result_name"] == "COMPLETED"
    assert "Traceback" not in inst.log()


def test_a_job_the_store_holds_but_cannot_rebuild_is_ended_with_a_reason(make_instance):
    inst = make_instance()
    job_id = inst.submit("sleep", "300")
    with inst.client() as client:
        client.wait_event(job_id, "start", 10)
    inst.kill()
    with sqlite3.connect(f"{inst.state_dir}/corral.db") as db:
        db.execute("UPDATE jobs SET jobspec = ? WHERE id = ?", ('{"version": 99}', job_id))
    inst.start()
    with inst.client() as client:
        exception = client.wait_event(job_id, "exception", 10)
        client.wait_event(job_id, "clean", 10)
        assert client.job(job_id)["result_name"] == "FAILED"
    assert exception["context"]["type"] == "restart"
    assert "stored jobspec is no longer valid" in exception["context"]["note"]
    inst.restart()  # the ended job does not come back at the next start
    assert f"job {job_id}: cannot be recovered" not in inst.log().split("started at")[-1]
