"""The fair-share plugin's arithmetic against hand computations of Slurm's classic
multifactor formulas (docs/fairshare.md)."""

import pytest

from corral.plugins import fairshare


def test_two_users_of_one_account_heavy_one_gets_a_quarter_idle_one_a_half():
    """Account ``a`` (the only one) has all usage, all of it alice's.  S(alice) = S(bob) = 1/2;
    U(alice) = 1, U(bob) = 0, UE(a) = U(a) = 1.  UE(alice) = 1 + (1 - 1)/2 = 1, so
    F = 2^(-1/0.5) = 1/4; UE(bob) = 0 + (1 - 0)/2 = 1/2, so F = 2^(-0.5/0.5) = 1/2."""
    tree = fairshare.fair_share_tree({"a": {"alice": 300.0}}, {"a": {"alice", "bob"}}, {}, {})
    assert tree["a"]["effective_usage"] == 1.0
    assert tree["a", "alice"]["norm_shares"] == 0.5
    assert tree["a", "alice"]["effective_usage"] == 1.0
    assert tree["a", "alice"]["fairshare"] == 0.25
    assert tree["a", "bob"]["effective_usage"] == 0.5
    assert tree["a", "bob"]["fairshare"] == 0.5
    assert tree["a", "bob"]["raw_usage"] == 0.0


def test_account_shares_split_the_machine_and_users_split_their_account():
    """physics has 3 shares, bio 1: S(physics) = 3/4, S(bio) = 1/4.  Within physics carol
    has 2 shares and dave 1: S(carol) = 3/4 * 2/3 = 1/2, S(dave) = 1/4.  Usage: physics 60
    (carol 60), bio 40 (erin 40), total 100.  UE(physics) = 0.6: F = 2^(-0.6/0.75);
    UE(carol) = 0.6 + (0.6 - 0.6) * 2/3 = 0.6: F = 2^(-1.2);
    UE(dave) = 0 + 0.6 * 1/3 = 0.2: F = 2^(-0.8); UE(erin) = 0.4 + 0 = 0.4 (she is bio's
    only user): F = 2^(-0.4/0.25) = 2^(-1.6)."""
    usage = {"physics": {"carol": 60.0}, "bio": {"erin": 40.0}}
    members = {"physics": {"carol", "dave"}, "bio": {"erin"}}
    tree = fairshare.fair_share_tree(usage, members, {"physics": 3, "bio": 1},
                                     {"carol": 2, "dave": 1, "erin": 1})
    assert tree["physics"]["norm_shares"] == 0.75
    assert tree["physics"]["fairshare"] == pytest.approx(2 ** (-0.8))
    assert tree["physics", "carol"]["norm_shares"] == pytest.approx(0.5)
    assert tree["physics", "dave"]["norm_shares"] == pytest.approx(0.25)
    assert tree["physics", "carol"]["fairshare"] == pytest.approx(2 ** (-1.2))
    assert tree["physics", "dave"]["effective_usage"] == pytest.approx(0.2)
    assert tree["physics", "dave"]["fairshare"] == pytest.approx(2 ** (-0.8))
    assert tree["bio", "erin"]["norm_usage"] == pytest.approx(0.4)
    assert tree["bio", "erin"]["fairshare"] == pytest.approx(2 ** (-1.6))


def test_no_usage_anywhere_gives_everyone_a_factor_of_one():
    tree = fairshare.fair_share_tree({}, {"a": {1, 2}, "b": {3}}, {}, {})
    assert {key: figures["fairshare"] for key, figures in tree.items()} == {
        "a": 1.0, ("a", 1): 1.0, ("a", 2): 1.0, "b": 1.0, ("b", 3): 1.0}


def test_zero_shares_give_a_factor_of_zero():
    tree = fairshare.fair_share_tree({}, {"a": {1}, "b": {2}}, {"a": 0}, {})
    assert tree["a", 1]["fairshare"] == 0.0
    assert tree["b", 2]["fairshare"] == 1.0


def test_usage_halves_every_half_life():
    assert fairshare.decayed(800.0, 3 * 3600, 3600) == 100.0
    assert fairshare.decayed(800.0, 0, 3600) == 800.0


def test_age_size_and_queue_factors():
    assert fairshare.age_factor(3.5 * 86400, 7 * 86400) == 0.5
    assert fairshare.age_factor(30 * 86400, 7 * 86400) == 1.0
    assert fairshare.size_factor(16, 64, favor_small=False) == 0.25
    assert fairshare.size_factor(1, 64, favor_small=True) == 1.0
    assert fairshare.size_factor(64, 64, favor_small=True) == 1 / 64
    assert fairshare.size_factor(4, 0, favor_small=False) == 0.0
    factors = {"debug": 4, "batch": 2}
    assert fairshare.queue_factor("debug", factors) == 1.0
    assert fairshare.queue_factor("batch", factors) == 0.5
    assert fairshare.queue_factor(None, factors) == 0.25
    assert fairshare.queue_factor("batch", {}) == 1.0


@pytest.mark.parametrize("conf, message", [
    ({"half-life": "soon"}, "fairshare: half-life: invalid duration 'soon'"),
    ({"interval": 0}, "fairshare: interval must be more than 0"),
    ({"weight-age": -1}, "fairshare: weight-age must be a non-negative number"),
    ({"accounts": {"a": "many"}}, "fairshare: accounts must map names to non-negative numbers"),
    ({"favor-small": 1}, "fairshare: favor-small must be true or false"),
    ({"halflife": "1d"}, "fairshare: unknown setting 'halflife'"),
])
def test_a_bad_setting_is_named(conf, message):
    with pytest.raises(ValueError) as caught:
        fairshare.settings(conf)
    assert str(caught.value).startswith(message)


def test_settings_read_durations_as_fsd():
    values = fairshare.settings({"half-life": "2h", "interval": 30, "max-age": "1d"})
    assert (values["half-life"], values["interval"], values["max-age"]) == (7200, 30, 86400)
