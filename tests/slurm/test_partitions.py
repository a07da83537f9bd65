"""``sbatch -p a,b`` and ``--constraint`` on queues that own nodes, and ``sinfo`` showing each
partition's own nodes."""

CONFIG = """
[[resource.config]]
hosts = "node[0-1]"
cores = "0"
properties = ["debug"]

[[resource.config]]
hosts = "node[2-3]"
cores = "0"
properties = ["gpu"]

[queues.debug]
requires = ["debug"]

[queues.batch]
nodes = "node[2-3]"
"""


def test_sbatch_partitions_and_constraint_map_to_queues_and_properties(make_slurm,
                                                                       tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(CONFIG)
    slurm = make_slurm(config=path)
    job_id = slurm.sbatch("-p", "debug,batch", "--constraint=gpu", "-o", "where.out",
                          "--wrap", "echo $SLURMD_NODENAME")
    slurm.wait(job_id)
    assert slurm.read("where.out").strip() in ("node2", "node3")
    result = slurm.run("sbatch", "--constraint=rank:x", "--wrap", "true", check=False)
    assert result.returncode == 1
    assert "--constraint: 'x' is not a set of ranks" in result.stderr
    result = slurm.run("sbatch", "-p", "debug", "--constraint=gpu", "--wrap", "true",
                       check=False)
    assert result.returncode == 1
    assert ("unsatisfiable request: constraint 'gpu' matches none of the nodes of queue "
            "debug, node[0-1] (debug); it matches node[2-3] (gpu)\n") in result.stderr
    partitions = slurm.run("sinfo", "-h", "-o", "%P %N").stdout.split("\n")
    assert partitions[:2] == ["debug* node[0-1]", "batch node[2-3]"]


def test_scontrol_shows_each_partitions_nodes_and_each_nodes_partitions(make_slurm,
                                                                        tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(CONFIG)
    slurm = make_slurm(config=path)
    shown = slurm.run("scontrol", "show", "partition", "batch").stdout
    assert "   Nodes=node[2-3]\n" in shown and "TotalNodes=2" in shown
    node = slurm.run("scontrol", "show", "node", "node0").stdout
    assert "   Partitions=debug\n" in node


def test_the_partition_sinfo_shows_without_queues_can_be_asked_for(slurm):
    shown = slurm.run("sinfo", "-h", "-o", "%P").stdout
    assert shown == "default*\n"
    job_id = slurm.sbatch("-p", "default", "-o", "where.out",
                          "--wrap", "echo $SLURM_JOB_PARTITION")
    slurm.wait(job_id)
    assert slurm.read("where.out") == "default\n"
    assert slurm.run("sacct", "-X", "-n", "-P", "-o", "Partition", "-j", job_id).stdout == \
        "default\n"
    refused = slurm.run("sbatch", "-p", "other", "--wrap", "true", check=False)
    assert refused.returncode == 1 and "invalid queue 'other'" in refused.stderr


LIMITED = """
[queues.batch.policy.limits]
duration = "10m"

[queues.debug]

[queues.short.policy.limits]
duration = "1h"

[queues.short.policy.jobspec.defaults.system]
duration = "5m"

[policy.jobspec.defaults.system]
queue = "batch"
"""


def test_a_queues_duration_limit_is_its_max_time_and_a_job_asking_none_gets_it(make_slurm,
                                                                               tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(LIMITED)
    slurm = make_slurm(config=path)
    assert slurm.run("sinfo", "-h", "-o", "%P %a %l").stdout == \
        "batch* up 10:00\ndebug up infinite\nshort up 1:00:00\n"
    shown = slurm.run("scontrol", "show", "partition").stdout.split()
    assert [pair for pair in shown if pair.startswith("MaxTime=")] == [
        "MaxTime=00:10:00", "MaxTime=UNLIMITED", "MaxTime=01:00:00"]
    assert [pair for pair in shown if pair.startswith("DefaultTime=")] == [
        "DefaultTime=00:10:00", "DefaultTime=NONE", "DefaultTime=00:05:00"]
    refused = slurm.run("sbatch", "-t", "20", "--wrap", "true", check=False)
    assert (refused.returncode, refused.stderr) == (
        1, "sbatch: error: Batch job submission failed: requested duration (20m) exceeds "
           "policy limit of 10m for queue batch\n")
    limited = slurm.sbatch("-H", "--wrap", "true")
    unlimited = slurm.sbatch("-H", "-p", "debug", "--wrap", "true")
    assert "TimeLimit=00:10:00" in slurm.run("scontrol", "show", "job", limited).stdout.split()
    assert slurm.run("squeue", "-h", "-j", f"{limited},{unlimited}", "-o", "%i %l").stdout == \
        f"{limited} 10:00\n{unlimited} UNLIMITED\n"
    with slurm.instance.client() as client:
        system = client.job_info(limited, "jobspec")["jobspec"]["attributes"]["system"]
    assert system["duration"] == 600
    slurm.run("scancel", limited, unlimited)
