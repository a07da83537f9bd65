"""The plugin test kit (`corral.testing`): plugins under test on a virtual clock, no daemon;
the fair-share plugin and the examples tested as their authors would."""

import errno
import os
import pathlib
import time

import pytest

from corral.states import State
from corral.testing import PluginFailure, RPCFailure

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples" / "jobtap"
PLUGINS = ROOT / "tests" / "plugins"

ALICE, BOB = 60001, 60002  # no such users here: listed by number


def test_fair_share_lets_the_light_user_go_first_after_a_virtual_hour(corral_kit):
    """Alice fills the machine for an hour; then she and Bob each queue a job of the whole
    machine, hers first.  The plugin's timer has charged her hour, so Bob's job starts first.
    An hour and a quarter of virtual time take well under a second."""
    kit = corral_kit(cores_per_node=4, plugins=[("corral.plugins.fairshare",
                                                 {"interval": "5m", "weight-age": 0})])
    started = time.perf_counter()
    hers = kit.submit(run=3600, ntasks=4, userid=ALICE)
    kit.advance(60)
    second = kit.submit(ntasks=4, run=600, userid=ALICE)
    bobs = kit.submit(ntasks=4, run=600, userid=BOB)
    kit.advance(600)
    assert kit.job(bobs)["priority"] > kit.job(second)["priority"]
    kit.wait(second)
    assert kit.events(bobs, "alloc")[0]["timestamp"] < kit.events(second, "alloc")[0][
        "timestamp"]
    assert kit.events(hers, "finish")[0]["timestamp"] == kit.events(bobs, "alloc")[0][
        "timestamp"]
    usage = kit.rpc("job-manager.fairshare.usage")
    alice = next(row for row in usage["associations"] if row["user"] == str(ALICE))
    assert alice["raw_usage"] > 4 * 3600 * 0.99  # decayed a little over the hour
    assert time.perf_counter() - started < 5


def test_fair_share_usage_survives_a_restart_through_its_usage_file(corral_kit, tmp_path):
    usage_file = tmp_path / "usage.json"
    kit = corral_kit(plugins=[("corral.plugins.fairshare",
                               {"interval": "1m", "usage-file": str(usage_file)})])
    kit.wait(kit.submit(run=600, ntasks=2, userid=ALICE))
    kit.advance(60)
    kit.restart()
    held = kit.submit(urgency=0, userid=ALICE)
    alice = kit.query("corral.plugins.fairshare")["usage"]["default"][str(ALICE)]
    assert 2 * 600 * 0.99 < alice <= 2 * 600
    kit.restart()
    assert kit.job(held)["state"] == State.SCHED  # a held job waits across restarts


def test_a_plugin_that_raises_fails_the_test_naming_it(corral_kit):
    kit = corral_kit(plugins=[str(PLUGINS / "misbehave.py")])
    with pytest.raises(PluginFailure) as caught:
        kit.wait(kit.submit(setattr=["system.misbehave=raise"]))
    message = str(caught.value)
    assert message.startswith("jobtap plugin misbehave.py failed: job.state.run: callback "
                              "raised RuntimeError: run callback failed on purpose")
    assert "Traceback" in message
    with pytest.raises(PluginFailure, match="expected an int or None"):
        kit.wait(kit.submit(setattr=["system.misbehave=bad-return"]))
    kit.wait(kit.submit())  # a step with no failure passes


def test_the_user_job_limit_example_rejects_with_its_message(corral_kit):
    kit = corral_kit()
    kit.load(str(EXAMPLES / "user_job_limit.py"), **{"max-active": 1})
    first = kit.submit(urgency=0, userid=ALICE)
    with pytest.raises(RPCFailure) as caught:
        kit.submit(userid=ALICE)
    assert caught.value.strerror == (f"rejected by user_job_limit.py: user {ALICE} already "
                                     "has 1 active jobs (limit 1)")
    kit.submit(userid=BOB)  # Bob has his own count
    kit.cancel(first)
    kit.wait(first)
    kit.wait(kit.submit(userid=ALICE))


def test_config_declares_nodes_and_queues_and_a_missing_event_says_so(corral_kit):
    kit = corral_kit(config='[[resource.config]]\nhosts = "gpu[0-1]"\ncores = "0-7"\n'
                            'properties = ["gpu"]\n')
    job = kit.submit(requires="gpu", nnodes=2)
    kit.wait(job)
    assert kit.job(job)["nodelist"] == "gpu[0-1]"
    held = kit.submit(urgency=0)
    with pytest.raises(AssertionError, match=f"job {held}: no alloc event"):
        kit.wait(held, "alloc", within=60)
    assert kit.now >= 60


def test_kit_state_directories_are_removed(corral_kit):
    kit = corral_kit()
    state_dir = kit.state_dir
    kit.close()
    assert not os.path.exists(state_dir)


def test_a_job_running_at_a_restart_ends_as_with_its_agents_gone(corral_kit):
    kit = corral_kit()
    job = kit.submit(run=100)
    kit.advance(10)
    kit.restart()
    kit.advance(200)  # nothing of the first job manager runs on: its end was never due
    assert kit.names(job)[-4:] == ["start", "exception", "free", "clean"]
    assert kit.events(job, "exception")[0]["context"]["note"] == (
        "the controller stopped while the job was running; its tasks were terminated")


def test_a_failed_node_ends_its_jobs_which_are_requeued_elsewhere(corral_kit):
    kit = corral_kit(nodes=2, cores_per_node=2, config='[sched]\nqueue-policy = "easy"\n')
    wide = kit.submit(run=100, nnodes=2, exclusive=True)
    kit.advance(10)
    kit.fail_node("node1")
    exception = kit.events(wide, "exception")[0]["context"]
    assert (exception["type"], exception["note"]) == ("node-fail", "node node1 (rank 1) lost")
    assert "requeue" in kit.names(wide)
    nodes = {node["name"]: node for node in kit.rpc("resource.list")["nodes"]}
    assert (nodes["node1"]["drained"], nodes["node1"]["reason"]) == (True, "node lost")
    small = kit.submit(run=1)
    kit.wait(small)
    assert kit.job(small)["nodelist"] == "node0"


def test_a_plugin_reads_a_job_through_its_view_and_requeues_it_held(corral_kit):
    """`p.job_view` and `p.job_requeue`, the handle's extensions the .prep builtin uses."""
    kit = corral_kit(nodes=2, cores_per_node=2, plugins=[str(PLUGINS / "view_and_requeue.py")])
    job = kit.submit(run=10, ntasks=4, userid=ALICE)
    kit.wait(job, "requeue")
    assert kit.events(job, "requeue")[0]["context"] == {
        "reason": "requeued by view_and_requeue", "hold": True}
    assert kit.events(job, "requeue-asked")[0]["context"] == {"pending": True}
    assert kit.job(job)["urgency"] == 0  # held
    kit.set_urgency(job, 16)
    kit.wait(job)
    seen = [event["context"] for event in kit.events(job, "viewed")]
    assert seen == [{"restart_count": count, "nodelist": "node[0-1]", "state": State.RUN,
                     "userid": ALICE, "ntasks": 4, "read_only": True,
                     "first_event": "submit"} for count in (0, 1)]
    assert kit.job(job)["result_name"] == "COMPLETED"
    plugin = next(plugin for plugin in kit.machine.manager.jobtap.plugins
                  if plugin.name == "view_and_requeue")
    with pytest.raises(OSError) as caught:
        plugin.job_view(job)  # inactive now: a view is of an active job
    assert caught.value.errno == errno.ENOENT

