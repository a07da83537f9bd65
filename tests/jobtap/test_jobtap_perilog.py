"""Prolog and epilog gating: flux-core checklist item 33 (t2212 with perilog-test.so): the
tasks start only after every prolog finished, ``free`` and ``clean`` wait for epilogs, an
epilog still runs after an exception during the prolog, and even for a job that never ran.

The rules about the job manager alone run in the plugin test kit (the plugin's timers on the
virtual clock); on instances, tasks that really start after the prolog, and once the epilog
of a job that never ran."""

import pytest
from jobtap_helpers import load, names, plugin, submit, wait

NEVER_RAN = ["submit", "validate", "depend", "priority", "exception", "epilog-start",
             "epilog-finish", "clean"]


def test_prolog_finishes_before_start_and_epilog_before_free(instance):
    with instance.client() as client:
        load(client, plugin("perilog_test.py"))
        job_id = submit(client)
        never_ran = submit(client, urgency=0)
        wait(client, job_id)
        assert names(client, job_id) == [
            "submit", "validate", "depend", "priority", "alloc", "prolog-start",
            "prolog-finish", "start", "finish", "epilog-start", "release", "epilog-finish",
            "free", "clean"]
        client.cancel(never_ran)
        wait(client, never_ran)
        assert names(client, never_ran) == NEVER_RAN


def test_epilog_runs_after_an_exception_during_the_prolog(corral_kit):
    kit = corral_kit()
    load(kit, plugin("perilog_test.py"), conf={"prolog-exception": 1})
    job_id = kit.submit()
    kit.wait(job_id)
    assert names(kit, job_id) == [
        "submit", "validate", "depend", "priority", "alloc", "prolog-start", "exception",
        "epilog-start", "prolog-finish", "epilog-finish", "free", "clean"]
    prolog_start, prolog_finish = (kit.events(job_id, name)[0]["timestamp"]
                                   for name in ("prolog-start", "prolog-finish"))
    assert prolog_finish - prolog_start == pytest.approx(0.1)  # the plugin's timer


def test_epilog_holds_clean_for_a_job_that_never_ran(corral_kit):
    kit = corral_kit(plugins=[plugin("perilog_test.py")])
    job_id = kit.submit(urgency=0)
    kit.wait(job_id, "priority")
    kit.cancel(job_id)
    kit.wait(job_id)
    assert names(kit, job_id) == NEVER_RAN
