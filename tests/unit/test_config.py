"""Configuration: loading TOML files, typed getters, and the core sections."""

import pytest

from corral import config
from corral.config import Config, ConfigError, NodeConfig


def write(path, text):
    path.write_text(text)
    return path


def load_text(tmp_path, text):
    return config.load(write(tmp_path / "corral.toml", text))


def error_of(call):
    with pytest.raises(ConfigError) as caught:
        call()
    return str(caught.value)


# --- loading --------------------------------------------------------------------------------


def test_no_path_gives_an_empty_configuration():
    loaded = config.load(None)
    assert loaded.data == {}
    assert loaded.path is None
    assert config.allow_guest_user(loaded) is False


def test_a_file_is_read_as_toml(tmp_path):
    loaded = load_text(tmp_path, '[access]\nallow-guest-user = true\n[myplugin]\nlimit = 3\n')
    assert loaded.data == {"access": {"allow-guest-user": True}, "myplugin": {"limit": 3}}
    assert loaded.path == str(tmp_path / "corral.toml")


def test_a_directory_merges_its_toml_files_in_name_order(tmp_path):
    write(tmp_path / "b.toml", '[exec]\nkill-timeout = "10s"\n')
    write(tmp_path / "a.toml", "[access]\nallow-guest-user = true\n[exec]\n")
    write(tmp_path / "notes.txt", "not = [toml")
    loaded = config.load(tmp_path)
    assert loaded.data == {
        "access": {"allow-guest-user": True},
        "exec": {"kill-timeout": "10s"},
    }


def test_an_empty_directory_gives_an_empty_configuration(tmp_path):
    assert config.load(tmp_path).data == {}


def test_a_key_set_in_two_files_is_an_error_naming_both(tmp_path):
    first = write(tmp_path / "a.toml", "[access]\nallow-guest-user = true\n")
    second = write(tmp_path / "b.toml", "[access]\nallow-guest-user = false\n")
    assert error_of(lambda: config.load(tmp_path)) == (
        f"{second}: access.allow-guest-user: already set in {first}"
    )


def test_a_table_in_one_file_and_a_value_in_another_is_an_error(tmp_path):
    first = write(tmp_path / "a.toml", "[access]\nallow-guest-user = true\n")
    second = write(tmp_path / "b.toml", 'access = "open"\n')
    assert error_of(lambda: config.load(tmp_path)) == f"{second}: access: already set in {first}"


def test_a_missing_path_is_an_error(tmp_path):
    missing = tmp_path / "nope.toml"
    assert error_of(lambda: config.load(missing)) == f"{missing}: no such file or directory"


def test_a_toml_syntax_error_names_the_file_and_keeps_the_line_and_column(tmp_path):
    broken = write(tmp_path / "broken.toml", "[access]\nallow-guest-user = \n")
    assert error_of(lambda: config.load(broken)) == (
        f"{broken}: Invalid value (at line 2, column 20)"
    )


def test_a_syntax_error_in_a_directory_names_the_file(tmp_path):
    write(tmp_path / "a.toml", "[ok]\n")
    broken = write(tmp_path / "b.toml", "[bad\n")
    assert error_of(lambda: config.load(tmp_path)).startswith(f"{broken}: ")


# --- getters and errors ---------------------------------------------------------------------


def test_get_walks_dotted_keys_and_falls_back_to_the_default(tmp_path):
    loaded = load_text(tmp_path, "[a.b]\nc = 1\n")
    assert loaded.get("a.b.c") == 1
    assert loaded.get("a.b") == {"c": 1}
    assert loaded.get("a.x", "default") == "default"
    assert loaded.get("z.y.x") is None


def test_get_through_a_value_that_is_not_a_table_is_an_error(tmp_path):
    path = tmp_path / "corral.toml"
    loaded = load_text(tmp_path, 'a = "text"\n')
    assert error_of(lambda: loaded.get("a.b")) == f"{path}: a: expected a table, got string"


@pytest.mark.parametrize(
    ("getter", "toml_value", "value"),
    [
        ("get_bool", "true", True),
        ("get_str", '"x"', "x"),
        ("get_int", "3", 3),
        ("get_number", "2.5", 2.5),
        ("get_number", "2", 2),
        ("get_list", "[1, 2]", [1, 2]),
        ("get_table", "{ k = 1 }", {"k": 1}),
        ("get_duration", '"1.5m"', 90.0),
        ("get_duration", "30", 30.0),
    ],
)
def test_typed_getters_return_values_of_their_type(tmp_path, getter, toml_value, value):
    loaded = load_text(tmp_path, f"[t]\nkey = {toml_value}\n")
    assert getattr(loaded, getter)("t.key") == value


@pytest.mark.parametrize(
    ("getter", "toml_value", "problem"),
    [
        ("get_bool", '"yes"', "expected a boolean, got string"),
        ("get_bool", "1", "expected a boolean, got integer"),
        ("get_str", "1", "expected a string, got integer"),
        ("get_int", "true", "expected an integer, got boolean"),
        ("get_int", "1.5", "expected an integer, got float"),
        ("get_number", "false", "expected a number, got boolean"),
        ("get_list", "{}", "expected an array, got table"),
        ("get_table", "[]", "expected a table, got array"),
        ("get_str", "1979-05-27T07:32:00Z", "expected a string, got datetime"),
        ("get_duration", '"5x"',
         "invalid duration '5x': unknown unit 'x' (expected ms, s, m, h or d)"),
        ("get_duration", "true", "expected a duration (FSD string or seconds), got boolean"),
    ],
)
def test_typed_getters_name_the_file_key_and_wrong_type(tmp_path, getter, toml_value, problem):
    loaded = load_text(tmp_path, f"[t]\nkey = {toml_value}\n")
    assert error_of(lambda: getattr(loaded, getter)("t.key")) == (
        f"{tmp_path / 'corral.toml'}: t.key: {problem}"
    )


def test_typed_getters_return_the_default_for_a_missing_key():
    empty = Config()
    assert empty.get_bool("a.b", True) is True
    assert empty.get_duration("a.b", 5.0) == 5.0
    assert empty.get_str("a.b") is None


def test_error_names_the_file_that_set_the_key(tmp_path):
    first = write(tmp_path / "10-plugin.toml", "[myplugin]\nlimit = -1\n")
    second = write(tmp_path / "20-other.toml", "[myplugin.extra]\nname = 1\n")
    loaded = config.load(tmp_path)
    assert str(loaded.error("myplugin.limit", "must be positive")) == (
        f"{first}: myplugin.limit: must be positive"
    )
    assert str(loaded.error("myplugin.extra.name", "bad")) == f"{second}: myplugin.extra.name: bad"
    assert str(loaded.error("myplugin.unset", "required")) == f"{first}: myplugin.unset: required"
    assert str(loaded.error("nowhere", "required")) == f"{tmp_path}: nowhere: required"


def test_error_without_a_configuration_names_only_the_key():
    assert str(Config().error("access.x", "bad")) == "access.x: bad"


# --- core sections --------------------------------------------------------------------------


def test_allow_guest_user_is_read_from_access(tmp_path):
    assert config.allow_guest_user(load_text(tmp_path, "[access]\nallow-guest-user = true\n"))


def test_a_wrong_type_in_a_core_section_stops_the_load(tmp_path):
    path = tmp_path / "corral.toml"
    assert error_of(lambda: load_text(tmp_path, '[access]\nallow-guest-user = "yes"\n')) == (
        f"{path}: access.allow-guest-user: expected a boolean, got string"
    )


def test_kill_timeout_defaults_to_five_seconds_and_reads_fsd(tmp_path):
    assert config.kill_timeout(Config()) == 5.0
    assert config.kill_timeout(load_text(tmp_path, '[exec]\nkill-timeout = "1m"\n')) == 60.0


def test_kill_timeout_must_be_a_duration(tmp_path):
    path = tmp_path / "corral.toml"
    assert error_of(lambda: load_text(tmp_path, '[exec]\nkill-timeout = "soon"\n')) == (
        f"{path}: exec.kill-timeout: invalid duration 'soon': expected a number with an optional "
        "unit (ms, s, m, h or d)"
    )


def test_resource_config_lists_hosts_in_hostlist_order(tmp_path):
    loaded = load_text(tmp_path, """
[[resource.config]]
hosts = "node[1,0]"
cores = "0-3"
gpus = "0-1"

[[resource.config]]
hosts = "login1"
cores = "0"
""")
    assert config.resource_config(loaded) == [
        NodeConfig("node1", (0, 1, 2, 3), (0, 1)),
        NodeConfig("node0", (0, 1, 2, 3), (0, 1)),
        NodeConfig("login1", (0,), ()),
    ]


def test_resource_config_merges_a_host_named_twice(tmp_path):
    loaded = load_text(tmp_path, """
[[resource.config]]
hosts = "node[0-1]"
cores = "0-1"

[[resource.config]]
hosts = "node1"
cores = "2-3"
gpus = "0"
""")
    assert config.resource_config(loaded) == [
        NodeConfig("node0", (0, 1), ()),
        NodeConfig("node1", (0, 1, 2, 3), (0,)),
    ]


def test_resource_config_is_empty_when_not_configured():
    assert config.resource_config(Config()) == []


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ('[[resource.config]]\nhosts = "n0"\ncores = "0"\n'
         '[[resource.config]]\nhosts = "n1"\ncores = "x"\n',
         "resource.config[1].cores: invalid idset 'x': 'x' is not a non-negative integer"),
        ('[[resource.config]]\ncores = "0"\n',
         "resource.config[0].hosts: required key is missing"),
        ('[[resource.config]]\nhosts = "n0"\n',
         "resource.config[0].cores: required key is missing"),
        ('[[resource.config]]\nhosts = "n[0-"\ncores = "0"\n',
         "resource.config[0].hosts: invalid hostlist 'n[0-': unbalanced brackets"),
        ('[[resource.config]]\nhosts = ""\ncores = "0"\n',
         "resource.config[0].hosts: names no host"),
        ('[[resource.config]]\nhosts = "n0"\ncores = ""\n',
         "resource.config[0].cores: names no core"),
        ('[[resource.config]]\nhosts = "n0"\ncores = 4\n',
         "resource.config[0].cores: expected a string, got integer"),
        ('[[resource.config]]\nhosts = "n0"\ncores = "0"\ngpus = "1-0"\n',
         "resource.config[0].gpus: invalid idset '1-0': range '1-0' is decreasing"),
        ('[[resource.config]]\nhosts = "n0"\ncores = "0"\nmemory = 4\n',
         "resource.config[0].memory: unknown key (expected one of cores, gpus, hosts, "
         "properties)"),
        ('[resource.config]\nhosts = "n0"\n',
         "resource.config: expected an array of tables, got table"),
        ("[resource]\nconfig = [1]\n", "resource.config[0]: expected a table, got integer"),
    ],
)
def test_resource_config_errors_name_the_file_and_the_entry(tmp_path, entries, problem):
    path = tmp_path / "corral.toml"
    assert error_of(lambda: load_text(tmp_path, entries)) == f"{path}: {problem}"


def test_resource_config_errors_name_the_file_that_holds_the_entries(tmp_path):
    write(tmp_path / "00-access.toml", "[access]\nallow-guest-user = false\n")
    resources = write(tmp_path / "50-resources.toml",
                      '[[resource.config]]\nhosts = "n0"\ncores = "z"\n')
    assert error_of(lambda: config.load(tmp_path)) == (
        f"{resources}: resource.config[0].cores: invalid idset 'z': 'z' is not a non-negative "
        "integer"
    )


def test_unknown_tables_are_left_to_plugins(tmp_path):
    loaded = load_text(tmp_path, "[some-plugin]\nanything = [1, \"two\"]\n")
    assert loaded.get("some-plugin.anything") == [1, "two"]
