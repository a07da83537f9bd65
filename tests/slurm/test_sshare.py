"""``sshare`` shows what ``corral share`` shows, in the same columns, and says in one line
when there is no fair-share plugin."""

CONFIG = """
[[job-manager.plugins]]
load = "corral.plugins.fairshare"
conf = { interval = "0.2s" }
"""


def test_sshare_prints_the_fair_share_associations(make_slurm, tmp_path):
    path = tmp_path / "fairshare.toml"
    path.write_text(CONFIG)
    slurm = make_slurm(config=path)
    job_id = slurm.sbatch("-A", "physics", "--wrap", "true")
    slurm.wait(job_id)
    shown = slurm.run("sshare", "-P", "-n").stdout
    assert shown == slurm.instance.corral("share", "-P", "-n").stdout
    assert shown.splitlines()[1].startswith(" physics||1|1.000000|")
    header = slurm.run("sshare", "-l").stdout.splitlines()[0].split()
    assert header == ["Account", "User", "RawShares", "NormShares", "RawUsage", "NormUsage",
                      "EffectvUsage", "FairShare"]


def test_sshare_without_the_plugin_is_one_line(slurm):
    result = slurm.run("sshare", check=False)
    assert (result.returncode, result.stderr) == (
        1, "sshare: error: the fair-share plugin is not loaded (corral jobtap load "
           "corral.plugins.fairshare)\n")
    result = slurm.run("sshare", "--bogus", check=False)
    assert result.returncode == 1 and result.stderr.startswith("sshare: error: ")
