"""The heartbeat state machine and the settings it runs on."""

import pytest

from corral.transport.liveness import ALIVE, LOST, UNRESPONSIVE, Liveness
from corral.transport.settings import Settings


def test_defaults_are_two_ten_and_thirty_seconds():
    settings = Settings()
    assert (settings.heartbeat_interval, settings.unresponsive_after,
            settings.lost_after) == (2.0, 10.0, 30.0)


def test_silence_makes_a_peer_unresponsive_then_lost_and_hearing_it_makes_it_alive():
    liveness = Liveness(Settings(), now=100.0)
    assert liveness.check(109.9) is None and liveness.state == ALIVE
    assert liveness.check(110.0) == UNRESPONSIVE
    assert liveness.check(120.0) is None  # said once
    assert liveness.check(130.0) == LOST
    assert liveness.check(500.0) is None
    assert liveness.heard(501.0) == ALIVE
    assert liveness.heard(502.0) is None
    assert liveness.check(512.0) == UNRESPONSIVE


def test_a_late_sweep_goes_from_alive_straight_to_lost():
    liveness = Liveness(Settings(), now=0.0)
    assert liveness.check(45.0) == LOST


def test_heard_in_time_stays_alive():
    liveness = Liveness(Settings(heartbeat_interval=0.2, unresponsive_after=1.0,
                                 lost_after=2.5), now=0.0)
    for tick in range(1, 50):
        liveness.heard(tick * 0.2)
        assert liveness.check(tick * 0.2 + 0.9) is None


@pytest.mark.parametrize("settings, message", [
    (dict(heartbeat_interval=0), "heartbeat_interval must be a positive number of seconds"),
    (dict(lost_after="30"), "lost_after must be a positive number of seconds, not '30'"),
    (dict(unresponsive_after=40.0), "heartbeat_interval < unresponsive_after < lost_after"),
    (dict(heartbeat_interval=10.0), "heartbeat_interval < unresponsive_after < lost_after"),
    (dict(reconnect_min=6.0), "reconnect_min (6.0) is greater than reconnect_max (5.0)"),
])
def test_bad_settings_are_refused_in_one_sentence(settings, message):
    with pytest.raises(ValueError, match=None) as error:
        Settings(**settings)
    assert message in str(error.value)
