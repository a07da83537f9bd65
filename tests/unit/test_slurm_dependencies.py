"""Outstanding dependencies in Slurm's words, as scontrol's ``Dependency=`` and squeue's
``%E`` print them (corral.slurm.dependencies.shown)."""

import pytest

from corral.slurm import dependencies

#: corral id -> the Slurm id shown; 13 is a task of 12's array; 20 is a task of the job's own
#: array (its %N throttle), left out.
_IDS = {12: "12", 13: "12_1", 20: None}


@pytest.mark.parametrize("descriptions, text", [
    ([], "(null)"),
    (["after-success=12"], "afterok:12(unfulfilled)"),
    (["after-finish=13", "after-start=12", "after-failure=12"],
     "afterany:12_1(unfulfilled),after:12(unfulfilled),afternotok:12(unfulfilled)"),
    (["any-of=after-success=12,after-failure=13"],
     "afterok:12(unfulfilled)?afternotok:12_1(unfulfilled)"),
    (["singleton", "after-exception=12"], "singleton(unfulfilled),afterexcept:12(unfulfilled)"),
    (["begin-time=1700000000.000", "after-finish=20"], "(null)"),
    (["after-success=12", "after-finish=20"], "afterok:12(unfulfilled)"),
    (["fairshare-hold"], "fairshare-hold(unfulfilled)"),
])
def test_outstanding_dependencies_are_shown_as_slurm_shows_them(descriptions, text):
    assert dependencies.shown(descriptions, _IDS.get) == text
