"""A user's ids and groups are looked up once per `identity.USER_CACHE_SECONDS`, not once
per task: the lookups cost more than starting the task."""

import os
import pwd

import pytest

from corral import identity
from support import guest_user


def test_a_users_groups_are_looked_up_again_only_once_the_cache_time_is_over(monkeypatch):
    if os.geteuid() != 0:
        pytest.fail("acting as another user needs root")
    uid = guest_user().pw_uid
    lookups = []
    real_lookup = pwd.getpwuid
    monkeypatch.setattr(identity.pwd, "getpwuid",
                        lambda userid: lookups.append(userid) or real_lookup(userid))
    clock = [1000.0]
    monkeypatch.setattr(identity.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(identity, "_users", {})
    first = identity.of_user(uid)
    clock[0] += identity.USER_CACHE_SECONDS - 1
    assert identity.of_user(uid) == first and lookups == [uid]
    clock[0] += 2
    assert identity.of_user(uid) == first and lookups == [uid, uid]
    assert first == (uid, real_lookup(uid).pw_gid,
                     os.getgrouplist(real_lookup(uid).pw_name, real_lookup(uid).pw_gid))
    assert identity.of_user(os.geteuid()) is None
