"""Prolog and epilog gating: flux-core checklist item 33 (t2212 with perilog-test.so): the
tasks start only after every prolog finished, ``free`` and ``clean`` wait for epilogs, an
epilog still runs after an exception during the prolog, and even for a job that never ran."""

from jobtap_helpers import load, names, plugin, submit, wait


def test_prolog_finishes_before_start_and_epilog_before_free(instance):
    with instance.client() as client:
        load(client, plugin("perilog_test.py"))
        job_id = submit(client)
        wait(client, job_id)
        assert names(client, job_id) == [
            "submit", "validate", "depend", "priority", "alloc", "prolog-start",
            "prolog-finish", "start", "finish", "epilog-start", "release", "epilog-finish",
            "free", "clean"]


def test_epilog_runs_after_an_exception_during_the_prolog(instance):
    with instance.client() as client:
        load(client, plugin("perilog_test.py"), conf={"prolog-exception": 1})
        job_id = submit(client)
        wait(client, job_id)
        assert names(client, job_id) == [
            "submit", "validate", "depend", "priority", "alloc", "prolog-start", "exception",
            "epilog-start", "prolog-finish", "epilog-finish", "free", "clean"]


def test_epilog_holds_clean_for_a_job_that_never_ran(instance):
    with instance.client() as client:
        load(client, plugin("perilog_test.py"))
        job_id = submit(client, urgency=0)
        wait(client, job_id, "priority")
        client.cancel(job_id)
        wait(client, job_id)
        assert names(client, job_id) == [
            "submit", "validate", "depend", "priority", "exception", "epilog-start",
            "epilog-finish", "clean"]
