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
