"""A job runs through its whole lifecycle and its eventlog says so."""


def test_job_runs_to_completion_with_full_eventlog(instance):
    job_id = instance.submit("true")
    instance.wait_inactive(job_id)
    names = [event["name"] for event in instance.client().eventlog(job_id)]
    assert names == ["submit", "validate", "depend", "priority", "alloc", "start", "finish",
                     "release", "free", "clean"]
