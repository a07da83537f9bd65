"""Slurm option spellings and ``#SBATCH`` directives (corral.slurm.options)."""

import pytest

from corral.slurm import options
from corral.slurm.options import OptionError

TABLE = options.JOB_OPTIONS + options.SBATCH_ONLY


def test_long_short_and_attached_forms_give_the_same_values():
    values, rest = options.parse("sbatch", ["--ntasks=4", "-N", "2", "-c2", "--job-name", "x",
                                            "-H", "job.sh", "-n", "9"], TABLE)
    assert values == {"ntasks": "4", "nodes": "2", "cpus_per_task": "2", "job_name": "x",
                      "hold": True}
    assert rest == ["job.sh", "-n", "9"]  # the script's own arguments are left alone


def test_unknown_option_is_refused_by_name():
    with pytest.raises(OptionError, match="unrecognized option '--licenses'"):
        options.parse("sbatch", ["--licenses=a", "job.sh"], TABLE)
    with pytest.raises(OptionError, match="invalid option -- 'L'"):
        options.parse("sbatch", ["-L", "a"], TABLE)
    with pytest.raises(OptionError, match="requires an argument"):
        options.parse("sbatch", ["--time"], TABLE)


def test_unambiguous_prefix_is_accepted_as_getopt_long_does():
    values, _rest = options.parse("sbatch", ["--part=debug"], TABLE)
    assert values == {"partition": "debug"}


SCRIPT = """#!/bin/bash
# a comment
#SBATCH --ntasks=2   # trailing comment
#SBATCH --job-name="my job"
#SBATCH -t 10
#SBATCHX not a directive

echo hello
#SBATCH --nodes=5
"""


def test_directives_end_at_the_first_command_and_are_split_like_a_shell():
    assert options.script_options("sbatch", SCRIPT, TABLE, "job.sh") == {
        "ntasks": "2", "job_name": "my job", "time": "10"}


def test_a_bad_directive_names_its_line():
    with pytest.raises(OptionError, match="line 2 of job.sh"):
        options.script_options("sbatch", "#!/bin/sh\n#SBATCH --bogus\n", TABLE, "job.sh")
