"""Files and identities, attacked for real by an unprivileged user: output is read with the
job owner's rights, the state directory is private, the working directory is entered as the
job's user, and a temporary instance that admits guests really lets them in.

The controller runs as root (as a site runs it); the attacker is the guest user of
`support.guest_user`, acting through the socket exactly as the CLI does.
"""

import base64
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time

from corral import jobspec
from support import as_guest, guest_directory, guest_user, rss_kib, until

HOLD = 0  # urgency: the job stays pending, so only the controller ever touches its paths


def guest_attach(inst, job_id, timeout=20) -> str:
    """Everything `corral job attach` would print for the guest, or fail after ``timeout``
    seconds (the controller did not answer)."""
    answer = {}

    def attach():
        chunks = as_guest(inst.uri, lambda client: list(client.output(job_id)))
        answer["text"] = "".join(data for _stream, data in chunks)

    thread = threading.Thread(target=attach, daemon=True)
    thread.start()
    thread.join(timeout)
    if "text" not in answer:
        raise AssertionError(f"attach to job {job_id} did not answer within {timeout}s")
    return answer["text"]


def guest_submit(inst, urgency=16, **options) -> int:
    spec = jobspec.build(options.pop("command", ["true"]), **options)
    return as_guest(inst.uri, lambda client: client.submit(spec, urgency=urgency))


def owner_answers(inst, within=2.0) -> bool:
    """True when the controller answers another client's request within ``within`` s."""
    try:
        with inst.client() as client:
            started = time.monotonic()
            client.rpc("instance.info", timeout=within)
            return time.monotonic() - started < within
    except OSError:
        return False


def stop_even_if_stuck(inst):
    """Stop the instance; kill -9 it if its loop no longer answers (a frozen controller)."""
    if inst.process is None:
        return
    if owner_answers(inst):
        inst.stop()
    else:
        inst.kill()


# --- output is read with the job owner's rights ---------------------------------------------


def test_guest_cannot_read_shadow_through_attach(guest_instance):
    inst = guest_instance()
    job_id = guest_submit(inst, output="/etc/shadow")
    inst.wait_inactive(job_id)
    text = guest_attach(inst, job_id)
    assert "root:" not in text
    assert text.startswith("corral: cannot read /etc/shadow: ")


def test_guest_sees_through_attach_only_files_it_owns(guest_instance):
    inst = guest_instance()
    job_id = guest_submit(inst, output="/etc/passwd", urgency=HOLD)  # readable by all
    text = guest_attach(inst, job_id)
    assert text == "corral: cannot read /etc/passwd: not owned by the job's user\n"


def test_guest_cannot_read_another_users_private_file(guest_instance):
    inst = guest_instance()
    private = tempfile.mkdtemp(prefix="corral-other-", dir="/tmp")
    try:
        os.chmod(private, 0o755)
        secret = os.path.join(private, "notes")
        with open(secret, "w") as file:
            file.write("other-user-secret\n")
        os.chmod(secret, 0o600)
        os.chown(secret, 65534, 65534)  # nobody's file
        job_id = guest_submit(inst, output=secret, urgency=HOLD)
        text = guest_attach(inst, job_id)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    assert "other-user-secret" not in text
    assert text == f"corral: cannot read {secret}: Permission denied\n"


def test_guest_cannot_read_the_owners_job_output(guest_instance):
    inst = guest_instance()
    owner_job = inst.submit("sh", "-c", "echo owner-secret")
    inst.wait_inactive(owner_job)
    kept = os.path.join(inst.state_dir, "output", f"{owner_job}.out")
    assert open(kept).read() == "owner-secret\n"
    job_id = guest_submit(inst, output=kept, urgency=HOLD)
    text = guest_attach(inst, job_id)
    assert "owner-secret" not in text
    assert text == f"corral: cannot read {kept}: Permission denied\n"


def test_guest_cannot_read_the_controllers_environment(guest_instance):
    inst = guest_instance(env={"CORRAL_TEST_SECRET": "controller-secret"})
    job_id = guest_submit(inst, output="/proc/self/environ", urgency=HOLD)
    text = guest_attach(inst, job_id)
    assert "controller-secret" not in text
    assert text.startswith("corral: cannot read /proc/self/environ: ")


def test_fifo_output_path_does_not_freeze_the_controller(guest_instance):
    inst = guest_instance()
    home = guest_directory()
    fifo = os.path.join(home, "pipe")
    os.mkfifo(fifo, 0o600)
    os.chown(fifo, guest_user().pw_uid, guest_user().pw_gid)
    try:
        job_id = guest_submit(inst, output=fifo, urgency=HOLD)
        text = guest_attach(inst, job_id, timeout=5)
        assert text == f"corral: cannot read {fifo}: not a regular file\n"
        assert owner_answers(inst)
    finally:
        try:  # a controller blocked opening the FIFO for reading is let go
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        stop_even_if_stuck(inst)
        shutil.rmtree(home, ignore_errors=True)


def test_dev_zero_output_path_does_not_grow_the_controller(guest_instance):
    inst = guest_instance()
    before = rss_kib(inst.process.pid)
    try:
        job_id = guest_submit(inst, output="/dev/zero", urgency=HOLD)
        text = guest_attach(inst, job_id, timeout=5)
        assert text == "corral: cannot read /dev/zero: not a regular file\n"
        assert owner_answers(inst)
        assert rss_kib(inst.process.pid) - before < 20 * 1024
    finally:
        stop_even_if_stuck(inst)


def test_guest_reads_its_own_output_file_and_kept_output(guest_instance):
    inst = guest_instance()
    home = guest_directory()
    try:
        named = guest_submit(inst, command=["sh", "-c", "echo to-file; echo err >&2"],
                             output=os.path.join(home, "out.{{id}}"), cwd=home)
        kept = guest_submit(inst, command=["sh", "-c", "echo kept; echo kept-err >&2"],
                            cwd=home)
        inst.wait_inactive(named)
        inst.wait_inactive(kept)
        assert guest_attach(inst, named) == "to-file\nerr\n"
        chunks = as_guest(inst.uri, lambda client: list(client.output(kept)))
        written = os.stat(os.path.join(home, f"out.{named}"))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert written.st_uid == guest_user().pw_uid
    assert sorted(map(tuple, chunks)) == [("stderr", "kept-err\n"), ("stdout", "kept\n")]


def test_output_to_dev_null_attaches_as_nothing(instance):
    result = instance.corral("run", "--output=/dev/null", "echo", "discarded")
    assert (result.stdout, result.stderr) == ("", "")


def test_owner_job_output_to_a_fifo_without_reader_fails_the_job_not_the_controller(
        instance, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    try:
        job_id = instance.submit(f"--output={fifo}", "echo", "lost")
        with instance.client() as client:
            exception = client.wait_event(job_id, "exception", 10)["context"]
            client.wait_event(job_id, "clean", 10)
        assert exception["type"] == "exec"
        assert exception["note"].endswith(f"cannot open {fifo}: No such device or address")
        assert owner_answers(instance)
    finally:
        try:  # a controller blocked opening the FIFO for writing is let go
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass
        stop_even_if_stuck(instance)


# --- the state directory is private ---------------------------------------------------------


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _umask_000(start):
    """``start()`` with umask 000, which the controller inherits."""
    previous = os.umask(0)
    try:
        return start()
    finally:
        os.umask(previous)


def test_state_directory_is_private_whatever_the_umask(make_instance, tmp_path):
    state = tmp_path / "state"
    inst = _umask_000(lambda: make_instance(state_dir=state))
    job_id = inst.submit("sh", "-c", "echo out; echo err >&2")
    inst.wait_inactive(job_id)
    output = state / "output"
    assert _mode(state) == 0o700
    assert _mode(output) == 0o700
    for name in ("corral.db", "corral.db-wal", "corral.db-shm"):
        assert _mode(state / name) == 0o600, name
    for name in (f"{job_id}.out", f"{job_id}.err"):
        assert _mode(output / name) == 0o600, name


def test_guest_output_is_owned_by_and_private_to_the_guest(guest_instance):
    inst = _umask_000(guest_instance)
    job_id = guest_submit(inst, command=["sh", "-c", "echo out; echo err >&2"], cwd="/tmp")
    inst.wait_inactive(job_id)
    guest = guest_user()
    state = inst.state_dir
    assert _mode(state) == 0o711  # guests reach the socket, list and read nothing
    assert _mode(os.path.join(state, "output")) == 0o700
    assert _mode(os.path.join(state, "corral.db")) == 0o600
    for name in (f"{job_id}.out", f"{job_id}.err"):
        info = os.stat(os.path.join(state, "output", name))
        assert (info.st_uid, info.st_gid) == (guest.pw_uid, guest.pw_gid), name
        assert stat.S_IMODE(info.st_mode) == 0o600, name
    assert guest_attach(inst, job_id) in ("out\nerr\n", "err\nout\n")


def _start(*arguments, env=None, timeout=20):
    return subprocess.run([sys.executable, "-m", "corral", "start", *map(str, arguments)],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def test_state_directory_writable_by_others_is_refused(tmp_path):
    state = tmp_path / "shared"
    state.mkdir()
    os.chmod(state, 0o777)
    result = _start(f"--state-dir={state}", "--", "true")
    assert result.returncode == 1
    assert result.stderr == (f"corral start: state directory {state} is writable by other "
                             "users; give the instance a directory of its own\n")
    assert os.listdir(state) == []


def test_state_directory_of_another_user_is_refused(tmp_path):
    state = tmp_path / "theirs"
    state.mkdir(mode=0o700)
    os.chown(state, guest_user().pw_uid, guest_user().pw_gid)
    result = _start(f"--state-dir={state}", "--", "true")
    assert result.returncode == 1
    assert result.stderr == (f"corral start: state directory {state} belongs to uid "
                             f"{guest_user().pw_uid}, not to the instance's user (uid 0)\n")


def test_an_existing_open_state_directory_is_closed(make_instance, tmp_path):
    state = tmp_path / "old"
    state.mkdir()
    os.chmod(state, 0o755)
    (state / "output").mkdir()
    os.chmod(state / "output", 0o755)
    inst = make_instance(state_dir=state)
    inst.stop()
    assert _mode(state) == 0o700
    assert _mode(state / "output") == 0o700
    assert _mode(state / "corral.db") == 0o600


# --- the working directory is entered as the job's user -------------------------------------


def test_guest_cannot_read_below_a_directory_it_cannot_traverse_through_cwd(guest_instance):
    inst = guest_instance()
    closed = tempfile.mkdtemp(prefix="corral-closed-", dir="/tmp")  # 0700, root's
    try:
        below = os.path.join(closed, "open")
        os.mkdir(below)
        os.chmod(below, 0o755)
        with open(os.path.join(below, "secret-below"), "w") as file:
            file.write("traversal-secret\n")
        os.chmod(os.path.join(below, "secret-below"), 0o644)
        job_id = guest_submit(inst, command=["cat", "secret-below"], cwd=below)
        inst.wait_inactive(job_id)
        text = guest_attach(inst, job_id)
    finally:
        shutil.rmtree(closed, ignore_errors=True)
    assert "traversal-secret" not in text
    assert text.startswith(f"corral: {os.uname().nodename}: couldn't chdir to `{below}': "
                           "Permission denied: going to /tmp instead\n")


def test_unusable_cwd_falls_back_to_tmp_as_slurm_does(instance):
    result = instance.corral("run", "--cwd=/no/such/dir", "pwd")
    assert result.stdout == "/tmp\n"
    assert result.stderr == (f"corral: {os.uname().nodename}: couldn't chdir to "
                             "`/no/such/dir': No such file or directory: going to /tmp instead\n")


def test_guest_job_runs_in_its_cwd(guest_instance):
    inst = guest_instance()
    home = guest_directory()
    try:
        job_id = guest_submit(inst, command=["sh", "-c", "pwd; id -u"], cwd=home)
        inst.wait_inactive(job_id)
        text = guest_attach(inst, job_id)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert text == f"{home}\n{guest_user().pw_uid}\n"


def _status_fields(text: str, names) -> dict:
    """The ``/proc/PID/status`` fields ``names`` of ``text``, each as a list of words."""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {name: fields[name].split() for name in names}


def test_guest_task_has_the_guests_ids_no_capability_and_only_its_three_descriptors(
        guest_instance):
    """A task starts as its user for good: real, effective, saved and filesystem ids and
    groups the user's (root is not left as a saved uid a task could take back), no
    capability, and no descriptor of the agent's beyond stdin, stdout and stderr; and the
    agent has root's rights again for the next job, its owner's."""
    inst = guest_instance()
    user = guest_user()
    job_id = guest_submit(inst, command=["sh", "-c", "cat /proc/self/status; echo fds:; "
                                                     "ls /proc/self/fd"], cwd="/tmp")
    inst.wait_inactive(job_id)
    text = guest_attach(inst, job_id)
    fields = _status_fields(text, ("Uid", "Gid", "Groups", "CapPrm", "CapEff"))
    assert fields["Uid"] == [str(user.pw_uid)] * 4
    assert fields["Gid"] == [str(user.pw_gid)] * 4
    assert sorted(map(int, fields["Groups"])) == sorted(
        set(os.getgrouplist(user.pw_name, user.pw_gid)))
    assert int(fields["CapPrm"][0], 16) == 0 and int(fields["CapEff"][0], 16) == 0
    # ls lists 0, 1, 2 and the descriptor of the directory it reads.
    assert text.split("fds:\n")[1].split() == ["0", "1", "2", "3"]
    with inst.client() as client:
        owner_job = client.submit(jobspec.build(["sh", "-c", "id -u; id -g"]))
        client.wait_event(owner_job, "clean", 30)
        owner_text = "".join(data for _stream, data in client.output(owner_job))
    assert owner_text == f"{os.getuid()}\n{os.getgid()}\n"


def test_guest_command_is_looked_up_in_the_jobs_path_as_the_guest(guest_instance):
    """As execvp does for the user: a program in a directory the guest may not search is
    passed over for the next of the job's PATH (were none found, the start would fail with
    EACCES, as execvp's), and a program found nowhere fails the start with one line that
    names it."""
    inst = guest_instance()
    top = tempfile.mkdtemp(prefix="corral-path-", dir="/tmp")
    try:
        os.chmod(top, 0o755)
        private, public = os.path.join(top, "private"), os.path.join(top, "public")
        for directory, words in ((private, "private"), (public, "public")):
            os.mkdir(directory, 0o755)
            probe = os.path.join(directory, "corral-probe")
            with open(probe, "w") as file:
                file.write(f"#!/bin/sh\necho {words}\n")
            os.chmod(probe, 0o755)
        os.chmod(private, 0o700)
        path = f"{private}:{public}:/usr/bin:/bin"
        found = guest_submit(inst, command=["corral-probe"], cwd="/tmp",
                             environment={"PATH": path})
        missing = guest_submit(inst, command=["corral-no-such-program"], cwd="/tmp",
                               environment={"PATH": f"{public}:/usr/bin:/bin"})
        inst.wait_inactive(found)
        inst.wait_inactive(missing)
        text = guest_attach(inst, found)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    assert text == "public\n"
    with inst.client() as client:
        note = next(event["context"]["note"] for event in client.eventlog(missing)
                    if event["name"] == "exception")
    assert note.endswith("start failed: corral-no-such-program: No such file or directory")


# --- a temporary instance that admits guests ------------------------------------------------


def _temporary_guest_instance(tmp_path, env=None):
    """Start ``corral start`` without --state-dir, guests allowed; ``(process, uri, keep)``:
    the instance runs until the file ``keep`` is removed."""
    config = tmp_path / "guests.toml"
    config.write_text("[access]\nallow-guest-user = true\n")
    keep = tmp_path / "keep"
    keep.touch()
    uri_file = tmp_path / "uri"
    script = f'echo "$CORRAL_URI" > {uri_file}; while [ -e {keep} ]; do sleep 0.05; done'
    process = subprocess.Popen(
        [sys.executable, "-m", "corral", "start", f"--config={config}", "--",
         "sh", "-c", script],
        stderr=subprocess.PIPE, text=True, env=dict(os.environ, **(env or {})))
    until(lambda: uri_file.exists() and uri_file.read_text().strip())
    return process, uri_file.read_text().strip(), keep


def test_temporary_instance_lets_guests_connect(tmp_path):
    process, uri, keep = _temporary_guest_instance(tmp_path)
    try:
        listed = as_guest(uri, lambda client: client.jobs())
    finally:
        keep.unlink()
        _, stderr = process.communicate(timeout=20)
    assert listed == []
    assert process.returncode == 0
    assert stderr == ""


def test_temporary_instance_in_a_private_directory_says_guests_cannot_reach_it(tmp_path):
    private = tempfile.mkdtemp(prefix="corral-private-", dir="/tmp")  # 0700
    try:
        process, uri, keep = _temporary_guest_instance(tmp_path, env={"TMPDIR": private})
        keep.unlink()
        _, stderr = process.communicate(timeout=20)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    socket_path = uri.removeprefix("local://")
    assert stderr == (f"corral: WARNING: guests cannot reach the socket {socket_path}: "
                      f"{private} is not searchable by other users\n")


def test_guest_job_with_only_an_error_file_keeps_its_stdout_with_the_job(guest_instance):
    """``-e FILE`` without ``-o``: stderr goes to the guest's file, opened as the guest;
    stdout is kept with the job, written by the agent (never opened as the guest, who cannot
    reach the instance's output directory), and both read back as ``corral run`` does."""
    inst = guest_instance()
    home = guest_directory()
    try:
        job_id = guest_submit(inst, command=["sh", "-c", "echo out; echo err >&2"], cwd=home,
                              error=os.path.join(home, "err.{{id}}"))
        inst.wait_inactive(job_id)
        chunks = as_guest(inst.uri, lambda client: list(client.output(job_id)))
        job = inst.client().job(job_id)
        with open(os.path.join(home, f"err.{job_id}")) as file:
            error_text = file.read()
        error_owner = os.stat(os.path.join(home, f"err.{job_id}")).st_uid
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert (job["result_name"], job["waitstatus"]) == ("COMPLETED", 0), job
    assert sorted(map(tuple, chunks)) == [("stderr", "err\n"), ("stdout", "out\n")]
    assert (error_text, error_owner) == ("err\n", guest_user().pw_uid)
    kept = os.stat(os.path.join(inst.state_dir, "output", f"{job_id}.out"))
    assert kept.st_uid == guest_user().pw_uid and stat.S_IMODE(kept.st_mode) == 0o600


def test_only_a_jobs_user_feeds_its_stdin_and_bad_chunks_are_refused(guest_instance, tmp_path):
    """``job-exec.stdin`` as ``corral run`` sends it: the owner's job takes no input from a
    guest, a malformed chunk is one error, and the job goes on to read what its user sent."""
    inst = guest_instance()
    with inst.client() as client:
        job_id = client.submit(jobspec.build(["cat"], cwd=str(tmp_path), stdin=True))
        client.wait_event(job_id, "start", 20)
        chunk = {"id": job_id, "data": base64.b64encode(b"mine\n").decode(), "eof": False}
        try:
            as_guest(inst.uri, lambda guest: guest.rpc("job-exec.stdin", chunk))
            raise AssertionError("a guest fed the owner's job")
        except OSError as exc:
            assert exc.errno == 1 and "belongs to another user" in exc.strerror
        for bad in ({"id": job_id, "data": 5}, {"id": "x"}, {"id": job_id, "eof": "yes"},
                    {"id": job_id, "data": "not base64!"}):
            try:
                client.rpc("job-exec.stdin", bad)
                raise AssertionError(f"accepted {bad}")
            except OSError as exc:
                assert exc.errno == 71, bad  # EPROTO
        client.rpc("job-exec.stdin", chunk)
        client.rpc("job-exec.stdin", {"id": job_id, "data": "", "eof": True})
        client.wait_event(job_id, "clean", 20)
        assert [tuple(chunk) for chunk in client.output(job_id)] == [("stdout", "mine\n")]
