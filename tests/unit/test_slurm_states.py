"""The one map from RFC 21 states and results to Slurm states and reasons
(corral.slurm.states)."""

import pytest

from corral.slurm import states
from corral.states import CLEANUP, DEPEND, INACTIVE, PRIORITY, RUN, SCHED, Result


def job(state, result=None, **fields):
    return dict({"state": state, "result": result, "userid": 1000, "urgency": 16}, **fields)


@pytest.mark.parametrize("summary, name, reason", [
    (job(DEPEND), "PENDING", "Dependency"),
    (job(SCHED), "PENDING", "Priority"),
    (job(PRIORITY, urgency=0), "PENDING", "JobHeldUser"),
    (job(RUN), "RUNNING", "None"),
    (job(CLEANUP), "COMPLETING", "None"),
    (job(INACTIVE, Result.COMPLETED, waitstatus=0), "COMPLETED", "None"),
    (job(INACTIVE, Result.FAILED, waitstatus=256), "FAILED", "NonZeroExitCode"),
    (job(INACTIVE, Result.CANCELED, exception={"type": "cancel"}), "CANCELLED", "None"),
    (job(INACTIVE, Result.TIMEOUT, exception={"type": "timeout"}), "TIMEOUT", "TimeLimit"),
    (job(INACTIVE, Result.FAILED, exception={"type": "node"}), "NODE_FAIL", "NodeDown"),
    (job(INACTIVE, Result.FAILED, exception={"type": "dependency"}), "CANCELLED",
     "DependencyNeverSatisfied"),
    (job(INACTIVE, Result.FAILED, exception={"type": "alloc"}), "FAILED", "PartitionConfig"),
])
def test_states_and_reasons(summary, name, reason):
    state = states.slurm_state(summary)
    assert state == name
    assert states.slurm_reason(summary, state) == reason


def test_first_job_in_line_waits_for_resources_and_begin_time_shows():
    assert states.slurm_reason(job(SCHED), "PENDING", first_in_line=True) == "Resources"
    begin = job(DEPEND, annotations={"user": {"slurm": {"begin": 2e9}}})
    assert states.slurm_reason(begin, "PENDING", now=1e9) == "BeginTime"
    admin = job(SCHED, urgency=0, annotations={"user": {"slurm": {"held_by": 0}}})
    assert states.slurm_reason(admin, "PENDING", owner_uid=0) == "JobHeldAdmin"


def test_compact_forms_and_state_lists():
    assert states.COMPACT["CANCELLED"] == "CA" and states.COMPACT["OUT_OF_MEMORY"] == "OOM"
    assert states.parse_state_list("pd,R,completed") == {"PENDING", "RUNNING", "COMPLETED"}
    assert states.parse_state_list("all") is None
    with pytest.raises(ValueError, match="Invalid job state specified: BOGUS"):
        states.parse_state_list("bogus")


def test_exit_code_is_exit_and_signal():
    assert states.exit_code({"waitstatus": 3 << 8}) == "3:0"
    assert states.exit_code({"waitstatus": 9}) == "0:9"
    assert states.exit_code({}) == "0:0"
