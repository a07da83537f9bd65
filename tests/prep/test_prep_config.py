"""``[prep]``: Slurm's PrEp options under corral's names, checked at start."""

import pytest

from corral import config
from corral.config import ConfigError
from corral.prep.config import PrepSettings, read


def settings_from(tmp_path, text):
    path = tmp_path / "corral.toml"
    path.write_text(text)
    return read(config.load(path))


def error_from(tmp_path, text):
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, text)
    return str(caught.value)


def test_no_prep_table_gives_slurm_defaults(tmp_path):
    settings = settings_from(tmp_path, "")
    assert settings.plugins == ("prep/script",)
    assert settings.parameters == ""
    assert settings.prolog == settings.epilog == ()
    assert settings.prolog_slurmctld == settings.epilog_slurmctld == ()
    assert settings.prolog_timeout is None and settings.epilog_timeout is None
    assert settings.flags == frozenset()
    assert settings.max_batch_requeue == 5
    assert settings.nohold_on_prolog_fail is False
    assert settings.requeue_delay == 120.0
    assert settings.cluster_name == "corral"
    assert settings.conf_path == str(tmp_path / "corral.toml")
    assert settings.conf_dir == str(tmp_path)


def test_an_empty_configuration_reads_like_no_table():
    settings = read(config.load(None))
    assert settings == PrepSettings()
    assert settings.conf_path is None


def test_plugins_given_replace_the_default_entirely(tmp_path):
    settings = settings_from(tmp_path, '[prep]\nplugins = ["site.health"]\n')
    assert settings.plugins == ("site.health",)


def test_an_empty_plugin_list_means_no_plugins(tmp_path):
    assert settings_from(tmp_path, "[prep]\nplugins = []\n").plugins == ()


def test_a_plugin_name_must_be_a_non_empty_string(tmp_path):
    message = error_from(tmp_path, '[prep]\nplugins = ["prep/script", ""]\n')
    assert message == f"{tmp_path / 'corral.toml'}: prep.plugins[1]: expected a plugin name, got ''"


def test_scripts_are_a_string_or_an_array_and_relative_ones_start_at_the_config(tmp_path):
    settings = settings_from(tmp_path, """
        [prep]
        prolog = "/etc/corral/prolog.d/*"
        epilog = ["epilog.sh", "/abs/epilog2"]
        prolog-slurmctld = ["/abs/pc"]
        epilog-slurmctld = "ec"
        """.replace("\n        ", "\n"))
    assert settings.prolog == ("/etc/corral/prolog.d/*",)
    assert settings.epilog == (str(tmp_path / "epilog.sh"), "/abs/epilog2")
    assert settings.prolog_slurmctld == ("/abs/pc",)
    assert settings.epilog_slurmctld == (str(tmp_path / "ec"),)


def test_a_config_directory_is_the_base_of_relative_scripts(tmp_path):
    directory = tmp_path / "conf.d"
    directory.mkdir()
    (directory / "prep.toml").write_text('[prep]\nprolog = "prolog.sh"\n')
    settings = read(config.load(directory))
    assert settings.prolog == (str(directory / "prolog.sh"),)
    assert settings.conf_path == str(directory)


def test_a_script_entry_must_be_a_non_empty_path(tmp_path):
    message = error_from(tmp_path, '[prep]\nepilog = ["/a", 3]\n')
    assert message.endswith("prep.epilog[1]: expected a non-empty path, got 3")
    message = error_from(tmp_path, "[prep]\nprolog = 3\n")
    assert message.endswith("prep.prolog: expected a path or an array of paths")


def test_timeout_applies_to_both_and_the_specific_ones_override_it(tmp_path):
    settings = settings_from(tmp_path, '[prep]\ntimeout = "2m"\nepilog-timeout = 5\n')
    assert settings.prolog_timeout == 120.0
    assert settings.epilog_timeout == 5.0


def test_a_zero_or_infinite_timeout_means_none(tmp_path):
    settings = settings_from(tmp_path, '[prep]\ntimeout = 0\nepilog-timeout = "inf"\n')
    assert settings.prolog_timeout is None and settings.epilog_timeout is None


def test_a_bad_timeout_names_the_key(tmp_path):
    message = error_from(tmp_path, '[prep]\nprolog-timeout = "5x"\n')
    assert "prep.prolog-timeout: invalid duration '5x'" in message


def test_flags_are_case_insensitive_and_the_alloc_family_implies_alloc(tmp_path):
    settings = settings_from(tmp_path, '[prep]\nflags = ["serial", "NOHOLD"]\n')
    assert settings.flags == {"Serial", "NoHold", "Alloc"}
    assert settings_from(tmp_path, '[prep]\nflags = ["Serial"]\n').flags == {"Serial"}
    for flag in ("DeferBatch", "ForceRequeueOnFail"):
        assert settings_from(tmp_path, f'[prep]\nflags = ["{flag}"]\n').flags == {flag, "Alloc"}


@pytest.mark.parametrize("flag", ["Contain", "runinjob", "X11"])
def test_containment_flags_are_refused_with_the_reason(tmp_path, flag):
    message = error_from(tmp_path, f'[prep]\nflags = ["Alloc", "{flag}"]\n')
    canonical = {"runinjob": "RunInJob"}.get(flag, flag)
    assert message.endswith(f"prep.flags[1]: '{canonical}' is not supported: corral does not "
                            "contain jobs in cgroups yet")


def test_an_unknown_flag_is_a_configuration_error(tmp_path):
    message = error_from(tmp_path, '[prep]\nflags = ["Allocate"]\n')
    assert message.endswith("prep.flags[0]: unknown flag 'Allocate' (expected one of Alloc, "
                            "DeferBatch, ForceRequeueOnFail, NoHold, Serial)")


def test_requeue_settings(tmp_path):
    settings = settings_from(tmp_path, """[prep]
max-batch-requeue = 2
nohold-on-prolog-fail = true
requeue-delay = "1s"
cluster-name = "local"
parameters = "health=strict"
slow-hook-threshold = "20ms"
""")
    assert settings.max_batch_requeue == 2
    assert settings.nohold_on_prolog_fail is True
    assert settings.requeue_delay == 1.0
    assert settings.cluster_name == "local"
    assert settings.parameters == "health=strict"
    assert settings.slow_hook_threshold == pytest.approx(0.02)


def test_negative_requeue_count_and_endless_delay_are_refused(tmp_path):
    assert error_from(tmp_path, "[prep]\nmax-batch-requeue = -1\n").endswith(
        "prep.max-batch-requeue: must not be negative, got -1")
    assert error_from(tmp_path, '[prep]\nrequeue-delay = "inf"\n').endswith(
        "prep.requeue-delay: must be finite")


def test_an_unknown_key_is_refused_so_that_typos_show(tmp_path):
    message = error_from(tmp_path, '[prep]\nprolog_slurmctld = "/x"\n')
    assert f"{tmp_path / 'corral.toml'}: prep.prolog_slurmctld: unknown key" in message


def test_values_of_the_wrong_type_name_the_key(tmp_path):
    assert error_from(tmp_path, "[prep]\nplugins = \"prep/script\"\n").endswith(
        "prep.plugins: expected an array, got string")
    assert error_from(tmp_path, "[prep]\nnohold-on-prolog-fail = 1\n").endswith(
        "prep.nohold-on-prolog-fail: expected a boolean, got integer")
