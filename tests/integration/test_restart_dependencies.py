"""The machine of a controller crashes (the controller killed -9, its node agent gone with the
tasks) while a job with dependents runs: at restart the job ends with a ``node-fail``
exception, each dependent is judged by its builtin (``.dependency-after``) as the rules say,
and no builtin logs a traceback or an error on the way."""

import pytest

from support import until

pytestmark = pytest.mark.agent_processes  # jobs that outlive the controller

SIMULATED = "--setattr=exec.test.run_duration=0"


def test_dependents_of_a_job_lost_in_a_crash_are_judged_without_a_traceback(instance):
    # Not requeued: it ends at the restart (a requeued one would run again).
    antecedent = instance.submit("-n1", "--setattr=system.requeue=false", "sleep", "60")
    instance.client().wait_event(antecedent, "start", 20)
    started = instance.submit(SIMULATED, f"--dependency=afterstart:{antecedent}", "true")
    instance.wait_inactive(started)
    dependents = {scheme: instance.submit(SIMULATED, f"--dependency={scheme}:{antecedent}",
                                          "true")
                  for scheme in ("afterok", "afterany", "afternotok", "afterexcept")}
    # Dependents of dependents are judged in turn, inside the callbacks of the first.
    chained = {scheme: instance.submit(SIMULATED, f"--dependency={scheme}:{dependents['afterok']}",
                                       "true")
               for scheme in ("afterok", "afterany")}
    with instance.client() as client:
        until(lambda: all(client.job(job_id)["state_name"] == "DEPEND"
                          for job_id in (*dependents.values(), *chained.values())))
    logged_before = len(instance.log())
    instance.kill()
    instance.stop_agents()  # its tasks go with it
    instance.start()
    for job_id in (antecedent, *dependents.values(), *chained.values()):
        instance.wait_inactive(job_id)
    with instance.client() as client:
        results = {scheme: client.job(job_id)["result_name"]
                   for scheme, job_id in dependents.items()}
        chained_results = {scheme: client.job(job_id)["result_name"]
                           for scheme, job_id in chained.items()}
        assert client.job(antecedent)["exception"]["type"] == "node-fail"
    assert results == {"afterok": "FAILED", "afterany": "COMPLETED",
                       "afternotok": "COMPLETED", "afterexcept": "COMPLETED"}
    assert chained_results == {"afterok": "FAILED", "afterany": "COMPLETED"}
    log = instance.log()[logged_before:]
    assert "Traceback" not in log and "ERROR" not in log, log
