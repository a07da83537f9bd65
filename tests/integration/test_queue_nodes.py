"""Queues as sites use them, on a real instance: queues that own nodes by property and by
name, a default queue with a default time limit, jobs that name several queues, node
properties matched by ``--requires``, and a per-user cap (``sbatch -p`` and ``--constraint``:
tests/slurm/test_partitions.py)."""

import pytest

from support import until

CONFIG = """
[[resource.config]]
hosts = "node[0-1]"
cores = "0"
properties = ["debug"]

[[resource.config]]
hosts = "node[2-3]"
cores = "0"
gpus = "0"
properties = ["gpu"]

[queues.debug]
requires = ["debug"]

[queues.batch]
nodes = "node[2-3]"

[queues.batch.policy.jobspec.defaults.system]
duration = "1h"

[queues.batch.policy.limits]
max-jobs-per-user = 1

[policy.jobspec.defaults.system]
queue = "batch"
"""

SIMULATED = "--setattr=system.exec.test.run_duration=0"


@pytest.fixture
def site(make_instance, tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(CONFIG)
    return make_instance(config=path)


def _nodelist(instance, job_id) -> str:
    instance.wait_inactive(job_id)
    with instance.client() as client:
        return client.job(job_id)["nodelist"]


def test_each_queue_runs_jobs_on_its_own_nodes(site):
    batch = site.submit(SIMULATED, "-N2", "true")
    debug = site.submit(SIMULATED, "-q", "debug", "-N2", "true")
    assert _nodelist(site, batch) == "node[2-3]"
    assert _nodelist(site, debug) == "node[0-1]"
    with site.client() as client:
        assert client.job_info(batch, "jobspec")["jobspec"]["attributes"]["system"][
            "duration"] == 3600  # batch's default time
        assert client.job_info(debug, "jobspec")["jobspec"]["attributes"]["system"][
            "duration"] == 0
        status = {queue["name"]: queue.get("ranks") for queue in
                  client.rpc("job-manager.queue-status")["queues"]}
        assert status == {"debug": "0-1", "batch": "2-3"}
        assert [node["properties"] for node in client.rpc("resource.list")["nodes"]] == [
            ["debug"], ["debug"], ["gpu"], ["gpu"]]


def test_requires_picks_nodes_and_a_job_may_name_several_queues(site):
    anywhere = site.submit(SIMULATED, "-q", "debug,batch", "--requires=gpu", "true")
    assert _nodelist(site, anywhere) in ("node2", "node3")
    named = site.submit(SIMULATED, "-q", "debug", "--requires=host:node1", "true")
    assert _nodelist(site, named) == "node1"
    result = site.corral("submit", "--requires=gpu&", "true", check=False)
    assert (result.returncode, result.stderr) == (
        1, "corral submit: jobspec: requires: empty term in 'gpu&'\n")
    result = site.corral("submit", "-q", "debug,nope", "true", check=False)
    assert (result.returncode, result.stderr) == (
        1, "corral submit: invalid queue 'nope' specified\n")


def test_a_constraint_no_node_of_its_queues_matches_is_refused_at_submit(site):
    """Refused with what was asked and what exists, before the job exists: no job id is
    spent and nothing is listed."""
    with site.client() as client:
        before = client.rpc("job-list.list", {"userid": -1})["jobs"]
    result = site.corral("submit", "-q", "debug", "--requires=gpu", "true", check=False)
    assert (result.returncode, result.stderr) == (
        1, "corral submit: unsatisfiable request: constraint 'gpu' matches none of the nodes "
           "of queue debug, node[0-1] (debug); it matches node[2-3] (gpu)\n")
    result = site.corral("submit", "--requires=bigmem|^host:node[0-3]", "true", check=False)
    assert (result.returncode, result.stderr) == (
        1, "corral submit: unsatisfiable request: constraint 'bigmem|^host:node[0-3]' matches "
           "no node; the nodes are node[0-1] (debug), node[2-3] (gpu)\n")
    with site.client() as client:
        assert client.rpc("job-list.list", {"userid": -1})["jobs"] == before


def test_max_jobs_per_user_keeps_a_users_second_job_waiting(site):
    first = site.submit("-t", "60s", "sleep", "60")
    second = site.submit(SIMULATED, "true")
    with site.client() as client:
        until(lambda: client.job(second)["reason"] == "MaxJobsPerUser")
        client.cancel(first)
    site.wait_inactive(second)
