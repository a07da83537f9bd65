"""Output options as Flux writes them: ``{cc}`` in the command and the output paths of a
``--cc`` submission, ``--label-io`` prefixing each line with its task rank, wherever the
output goes, and ``-o`` setting shell options."""

import os
import pwd
import uuid

from corral import jobspec


def test_cc_is_substituted_in_the_command_and_the_output_paths(instance, tmp_path):
    out = tmp_path / "copy{cc}.out"
    err = tmp_path / "copy{cc}.err"
    ids = [int(line) for line in instance.corral(
        "submit", "--cc=1-3", f"--output={out}", f"--error={err}",
        "sh", "-c", "echo out {cc} $CORRAL_JOB_CC; echo err {cc} >&2").stdout.split()]
    for job_id in ids:
        instance.wait_inactive(job_id)
    for cc in (1, 2, 3):
        assert (tmp_path / f"copy{cc}.out").read_text() == f"out {cc} {cc}\n"
        assert (tmp_path / f"copy{cc}.err").read_text() == f"err {cc}\n"


def test_label_io_prefixes_each_line_with_its_task_rank(make_instance, tmp_path):
    instance = make_instance(test_size=2)
    script = "echo one; echo two; printf 'no newline'; echo err >&2"
    result = instance.corral("run", "-l", "-N2", "sh", "-c", script)
    for rank in (0, 1):
        lines = [line for line in result.stdout.replace("no newline", "no newline\n")
                 .splitlines() if line.startswith(f"{rank}: ")]
        assert lines == [f"{rank}: one", f"{rank}: two", f"{rank}: no newline"], result.stdout
    assert sorted(result.stderr.splitlines()) == ["0: err", "1: err"]
    # Into the user's file too, and through submit and attach.
    out = tmp_path / "labelled.out"
    job_id = instance.submit("--label-io", "-n2", f"--output={out}", "sh", "-c",
                             "echo hi; echo oops >&2")
    instance.wait_inactive(job_id)
    assert sorted(out.read_text().splitlines()) == ["0: hi", "0: oops", "1: hi", "1: oops"]
    attached = instance.corral("job", "attach", job_id).stdout
    assert sorted(attached.splitlines()) == ["0: hi", "0: oops", "1: hi", "1: oops"]
    plain = instance.corral("run", "-n2", "echo", "bare").stdout
    assert plain == "bare\nbare\n"


def test_o_sets_shell_options_as_flux_submit_does(instance, tmp_path):
    out = tmp_path / "through-setopt.out"
    job_id = instance.submit("-o", "output.stdout.type=file", "-o", f"output.stdout.path={out}",
                             "-o", "cpu-affinity=off", "-o", "verbose", "echo", "hi")
    instance.wait_inactive(job_id)
    assert out.read_text() == "hi\n"
    spec = instance.client().job_info(job_id, "jobspec")["jobspec"]
    options = spec["attributes"]["system"]["shell"]["options"]
    assert (options["cpu-affinity"], options["verbose"]) == ("off", 1)


def test_a_job_without_cwd_runs_and_writes_relative_output_in_its_users_home(instance):
    # The API may submit a jobspec without attributes.system.cwd: its tasks start in the
    # user's home, and a relative -o path is read from there too, as its eventual reader
    # (``corral job attach``) and PrEp's SLURM_JOB_WORK_DIR say.
    home = pwd.getpwuid(os.getuid()).pw_dir
    name = f"corral-test-no-cwd-{uuid.uuid4().hex}.out"
    spec = jobspec.build(["pwd"], output=name)
    assert "cwd" not in spec["attributes"]["system"]
    path = os.path.join(home, name)
    try:
        job_id = instance.client().submit(spec)
        instance.wait_inactive(job_id)
        with open(path) as written:
            assert written.read() == f"{os.path.realpath(home)}\n"
        attached = instance.corral("job", "attach", str(job_id)).stdout
        assert attached == f"{os.path.realpath(home)}\n"
    finally:
        if os.path.exists(path):
            os.unlink(path)
