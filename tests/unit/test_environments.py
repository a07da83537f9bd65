"""How job environments are split into a stored base and each job's own variables."""

from corral.store.environments import MAX_OWN_VARIABLES, EnvironmentSplitter, join

BASE = {f"VAR{i}": f"value {i}" for i in range(40)}


def splitter():
    stored = []
    return EnvironmentSplitter(lambda key, text: stored.append(key), userid=1000), stored


def test_copies_of_a_submission_share_one_base_and_keep_what_differs():
    split, stored = splitter()
    results = [split.split({**BASE, "CORRAL_JOB_CC": str(cc)}) for cc in range(1, 101)]
    assert len(stored) == 1
    assert {key for key, _own in results} == {stored[0]}
    assert results[0][1] is None  # the first is the base itself
    for cc, (_key, own) in enumerate(results[1:], 2):
        assert own == {"CORRAL_JOB_CC": str(cc)}
        assert join({**BASE, "CORRAL_JOB_CC": "1"}, own) == {**BASE, "CORRAL_JOB_CC": str(cc)}


def test_a_variable_removed_or_many_changed_start_a_new_base():
    split, stored = splitter()
    split.split(BASE)
    smaller = dict(BASE)
    del smaller["VAR3"]
    assert split.split(smaller) == (stored[1], None)
    changed = {**smaller, **{f"VAR{i}": "other" for i in range(4, 5 + MAX_OWN_VARIABLES)}}
    assert split.split(changed) == (stored[2], None)
    assert len(set(stored)) == 3


def test_users_never_share_a_stored_environment():
    first, first_stored = splitter()
    second = EnvironmentSplitter(lambda key, text: None, userid=1001)
    assert first.split(BASE)[0] != second.split(BASE)[0]
    assert first_stored
