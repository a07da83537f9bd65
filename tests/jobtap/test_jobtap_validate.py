"""Validation and creation: flux-core checklist items 18-20 (t2212) and the seed's
`reject_job`: the submitter sees the message, ``corral submit`` exits non-zero, and nothing
remains of the job."""

import errno

from jobtap_helpers import dmesg, load, names, plugin, rpc_error, spec, submit, until, wait

from corral.client import RPCError


def _unknown(client, job_id):
    assert rpc_error(client.eventlog, job_id).errno == errno.ENOENT
    assert rpc_error(client.job, job_id).errno == errno.ENOENT


def test_validate_rejections_reach_the_submitter(instance):
    """Item 18: a custom message after the name of the plugin that rejected, the default
    naming it, and a bare -1 that names it too (Flux's bare default does not)."""
    load_args = ("jobtap", "load", "--remove=all", plugin("modes.py"))
    instance.corral(*load_args)
    for mode, message in [
        ("validate failure", "rejected by modes.py: rejected for testing"),
        ("validate failure nullmsg", "rejected by job-manager plugin 'modes.py'"),
        ("validate failure nomsg", "rejected by job-manager plugin 'modes.py'"),
    ]:
        result = instance.corral("submit", f"--setattr=system.jobtap.test-mode={mode}",
                                 "true", check=False)
        assert (result.returncode, result.stdout, result.stderr) == (
            1, "", f"corral submit: {message}\n")
    with instance.client() as client:
        for job_id in (1, 2, 3):
            _unknown(client, job_id)
        assert client.jobs(states=127) == []


def test_a_plugin_can_reject_some_jobs_in_a_batch(instance):
    """Item 19: six jobs in one submission, two rejected; rejected ids are unknown, the
    others run; a rejected job gets ``job.destroy`` and never ``job.new``."""
    with instance.client() as client:
        load(client, plugin("validate_reject.py"))
        marks = [1, 1, 1, 4, 4, 1]
        specs = [spec(setattr=[f"system.jobtap.validate-test-id={mark}"]) for mark in marks]
        results = client.submit_many(specs)
        rejected = [result for result in results if isinstance(result, RPCError)]
        assert [(error.errno, error.strerror) for error in rejected] == [
            (errno.EINVAL, "rejected by validate_reject.py: Job had reject_id")] * 2
        accepted = [result for result in results if not isinstance(result, RPCError)]
        assert accepted == [1, 2, 3, 6]
        for job_id in accepted:
            wait(client, job_id)
        for job_id in (4, 5):
            _unknown(client, job_id)
        log = "\n".join(dmesg(client))
        for job_id in (4, 5):
            assert f"validate-reject: job.create {job_id}" in log
            assert f"validate-reject: job.destroy {job_id}" in log
            assert f"validate-reject: job.new {job_id}" not in log
        assert "validate-reject: job.new 6" in log


def test_job_create_posts_events_before_validation_and_can_reject(instance):
    """Item 20."""
    with instance.client() as client:
        load(client, plugin("create_event.py"))
        job_id = submit(client)
        wait(client, job_id)
        assert names(client, job_id)[:3] == ["submit", "test-event", "validate"]
        load(client, plugin("create_reject.py"))
        error = rpc_error(submit, client)
        assert (error.errno, error.strerror) == (errno.EINVAL, "rejected by create_reject.py: nope")
        until(lambda: client.jobs(states=127))
        assert [job["id"] for job in client.jobs(states=127)] == [job_id]
