"""Settings: defaults, then the config file, then env, then flags; one-line errors that name the setting."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from facmon.core.settings import MqttUrl, SettingsError, is_example_password, load_settings, parse_duration

SECRET = "s3cr3t-Pa55"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No FACMON_* variable of the developer's shell may leak in; run in an empty directory."""
    for key in list(os.environ):
        if key.upper().startswith("FACMON_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def config(tmp_path: Path, monkeypatch, text: str | bytes) -> Path:
    path = tmp_path / "facmon.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("FACMON_CONFIG", str(path))
    return path


def error_of(overrides=None) -> str:
    with pytest.raises(SettingsError) as info:
        load_settings(overrides)
    message = str(info.value)
    assert "\n" not in message, message
    return message


def test_defaults():
    s = load_settings()
    assert s.mqtt_url.get_secret_value() == "mqtt://127.0.0.1:1883"
    assert s.mqtt == MqttUrl(tls=False, host="127.0.0.1", port=1883)
    assert s.mqtt_ca_file is None
    assert s.mqtt_client_id == "facmon-ingest"
    assert s.mqtt_share_group is None
    assert s.topic_prefix == "facmon/v1"
    assert s.influx_url == "http://127.0.0.1:8086"
    assert s.influx_db == "facmon"
    assert (s.influx_token, s.influx_user, s.influx_password) == (None, None, None)
    assert s.influx_auth() is None
    assert s.influx_timeout == 10.0
    assert s.registry == Path("registry.yaml")
    assert s.max_reading_age == timedelta(days=35)
    assert s.batch_size == 5000
    assert s.flush_interval == 0.25
    assert s.stats_interval == 10.0
    assert s.log_level == "INFO"


def test_env_overrides(monkeypatch):
    monkeypatch.setenv("FACMON_INFLUX_DB", "envdb")
    monkeypatch.setenv("FACMON_BATCH_SIZE", "500")
    monkeypatch.setenv("FACMON_LOG_LEVEL", "debug")
    monkeypatch.setenv("FACMON_TOPIC_PREFIX", "city/facmon/v2")
    monkeypatch.setenv("FACMON_MQTT_URL", "mqtt://broker.example:1884")
    monkeypatch.setenv("FACMON_INFLUX_URL", "https://influx.example:8443/")
    s = load_settings()
    assert s.influx_db == "envdb"
    assert s.batch_size == 500
    assert s.log_level == "DEBUG"
    assert s.topic_prefix == "city/facmon/v2"
    assert s.mqtt == MqttUrl(tls=False, host="broker.example", port=1884)
    assert s.influx_url == "https://influx.example:8443"


def test_config_file_below_env(monkeypatch, tmp_path):
    config(
        tmp_path,
        monkeypatch,
        "influx_db: filedb\nbatch_size: 100\nFACMON_LOG_LEVEL: warning\nmax_reading_age: 7200\nregistry: /etc/r.yaml\n",
    )
    monkeypatch.setenv("FACMON_BATCH_SIZE", "200")
    s = load_settings()
    assert s.influx_db == "filedb"
    assert s.batch_size == 200
    assert s.log_level == "WARNING"
    assert s.max_reading_age == timedelta(hours=2)
    assert s.registry == Path("/etc/r.yaml")


def test_flags_above_env_and_file(monkeypatch, tmp_path):
    config(tmp_path, monkeypatch, "influx_db: filedb\nbatch_size: 100\nlog_level: error\n")
    monkeypatch.setenv("FACMON_INFLUX_DB", "envdb")
    monkeypatch.setenv("FACMON_BATCH_SIZE", "200")
    s = load_settings({"influx_db": "flagdb", "batch_size": None, "max_reading_age": "12h"})
    assert s.influx_db == "flagdb"
    assert s.batch_size == 200  # a flag left at None does not override
    assert s.log_level == "ERROR"
    assert s.max_reading_age == timedelta(hours=12)


def test_empty_config_file_gives_defaults(monkeypatch, tmp_path):
    config(tmp_path, monkeypatch, "")
    assert load_settings().influx_db == "facmon"


def test_empty_config_variable_is_ignored(monkeypatch):
    monkeypatch.setenv("FACMON_CONFIG", "")
    assert load_settings().influx_db == "facmon"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("35d", timedelta(days=35)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
        ("1w", timedelta(weeks=1)),
        ("3600", timedelta(seconds=3600)),
        ("1.5h", timedelta(minutes=90)),
        (" 2d ", timedelta(days=2)),
    ],
)
def test_durations(monkeypatch, text, expected):
    monkeypatch.setenv("FACMON_MAX_READING_AGE", text)
    assert load_settings().max_reading_age == expected
    assert parse_duration(text) == expected


def test_duration_numbers():
    assert parse_duration(60) == timedelta(minutes=1)
    assert parse_duration(0.5) == timedelta(milliseconds=500)
    assert parse_duration(timedelta(days=1)) == timedelta(days=1)


@pytest.mark.parametrize("text", ["12x", "0", "-5", "", "d", "5y", "1h30m", "0s", "0.0", "abc"])
def test_invalid_duration_names_the_setting(monkeypatch, text):
    monkeypatch.setenv("FACMON_MAX_READING_AGE", text)
    message = error_of()
    assert message.startswith("invalid setting FACMON_MAX_READING_AGE: ")


@pytest.mark.parametrize("value", [True, 0, -1, -0.5])
def test_invalid_duration_values(value):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://h", MqttUrl(tls=False, host="h", port=1883)),
        ("mqtts://h", MqttUrl(tls=True, host="h", port=8883)),
        ("mqtt://h:1884", MqttUrl(tls=False, host="h", port=1884)),
        ("mqtts://h:443/", MqttUrl(tls=True, host="h", port=443)),
        ("  mqtt://10.0.0.5:1883  ", MqttUrl(tls=False, host="10.0.0.5", port=1883)),
        ("mqtt://user@h", MqttUrl(tls=False, host="h", port=1883, username="user")),
    ],
)
def test_mqtt_url_parse(url, expected):
    assert MqttUrl.parse(url) == expected


def test_mqtt_url_percent_decoding():
    url = MqttUrl.parse("mqtts://us%40er%3A1:p%3Aw%2Fd%40%25@broker.example")
    assert url.username == "us@er:1"
    assert url.password is not None
    assert url.password.get_secret_value() == "p:w/d@%"
    assert (url.tls, url.host, url.port) == (True, "broker.example", 8883)


@pytest.mark.parametrize(
    "url",
    ["http://h", "tcp://h:1883", "ws://h", "h:1883", "mqtt://", "mqtt://h/path", "mqtt://h?x=1", "mqtt://h#f",
     "mqtt://h:notaport", "mqtt://h:99999"],
)  # fmt: skip
def test_bad_mqtt_url(monkeypatch, url):
    with pytest.raises(ValueError):  # noqa: PT011 (the messages differ; the settings test below checks them)
        MqttUrl.parse(url)
    monkeypatch.setenv("FACMON_MQTT_URL", url)
    assert error_of().startswith("invalid setting FACMON_MQTT_URL: ")


def test_bad_scheme_message(monkeypatch):
    monkeypatch.setenv("FACMON_MQTT_URL", f"http://user:{SECRET}@h")
    assert error_of() == "invalid setting FACMON_MQTT_URL: must start with mqtt:// or mqtts://"


@pytest.mark.parametrize("url", [f"http://user:{SECRET}@h", f"mqtt://user:{SECRET}@h:bad", f"mqtt://u:{SECRET}@h/x"])
def test_password_not_in_errors(monkeypatch, url):
    monkeypatch.setenv("FACMON_MQTT_URL", url)
    assert SECRET not in error_of()


def test_password_never_shown(monkeypatch):
    monkeypatch.setenv("FACMON_MQTT_URL", f"mqtts://alice:{SECRET}@broker.example:8884")
    monkeypatch.setenv("FACMON_INFLUX_USER", "bob")
    monkeypatch.setenv("FACMON_INFLUX_PASSWORD", SECRET + "-influx")
    s = load_settings()
    assert s.mqtt.password is not None
    assert s.mqtt.password.get_secret_value() == SECRET
    assert s.influx_auth() == ("bob", SECRET + "-influx")
    for text in (repr(s), str(s), repr(s.mqtt), str(s.mqtt), s.mqtt.redacted(), s.model_dump_json()):
        assert SECRET not in text
    assert s.mqtt.redacted() == "mqtts://alice:***@broker.example:8884"


def test_redacted_without_user():
    assert MqttUrl.parse("mqtt://h").redacted() == "mqtt://h:1883"


def test_redacted_ipv6_host():
    assert MqttUrl.parse("mqtt://[::1]:1883").redacted() == "mqtt://[::1]:1883"


def test_token_auth(monkeypatch):
    monkeypatch.setenv("FACMON_INFLUX_TOKEN", "tok-123")
    s = load_settings()
    assert s.influx_auth() == ("", "tok-123")
    assert "tok-123" not in repr(s)


@pytest.mark.parametrize(
    "env",
    [
        {"FACMON_INFLUX_TOKEN": "t", "FACMON_INFLUX_USER": "u", "FACMON_INFLUX_PASSWORD": "p"},
        {"FACMON_INFLUX_TOKEN": "t", "FACMON_INFLUX_USER": "u"},
        {"FACMON_INFLUX_TOKEN": "t", "FACMON_INFLUX_PASSWORD": "p"},
    ],
)
def test_token_and_user_password_conflict(monkeypatch, env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    message = error_of()
    assert "FACMON_INFLUX_TOKEN" in message
    assert "alternatives" in message


@pytest.mark.parametrize("env", [{"FACMON_INFLUX_USER": "u"}, {"FACMON_INFLUX_PASSWORD": "p"}])
def test_user_and_password_go_together(monkeypatch, env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert "FACMON_INFLUX_USER and FACMON_INFLUX_PASSWORD go together" in error_of()


def test_ca_file_needs_mqtts(monkeypatch, tmp_path):
    monkeypatch.setenv("FACMON_MQTT_CA_FILE", str(tmp_path / "ca.pem"))
    assert "FACMON_MQTT_CA_FILE needs an mqtts://" in error_of()
    monkeypatch.setenv("FACMON_MQTT_URL", "mqtts://broker.example")
    s = load_settings()
    assert s.mqtt_ca_file == tmp_path / "ca.pem"
    assert s.mqtt.tls is True


@pytest.mark.parametrize(
    "prefix", ["", "facmon/", "/facmon", "facmon//v1", "facmon/#", "facmon/+/v1", "fac mon", "fac\nmon", "图书馆"]
)
def test_invalid_topic_prefix(monkeypatch, prefix):
    monkeypatch.setenv("FACMON_TOPIC_PREFIX", prefix)
    assert error_of().startswith("invalid setting FACMON_TOPIC_PREFIX: ")


@pytest.mark.parametrize("prefix", ["facmon/v1\n", "facmon\n/v1"])
def test_topic_prefix_with_trailing_newline_is_invalid(monkeypatch, prefix):
    monkeypatch.setenv("FACMON_TOPIC_PREFIX", prefix)
    assert error_of().startswith("invalid setting FACMON_TOPIC_PREFIX: ")


@pytest.mark.parametrize("prefix", ["a", "facmon/v1", "A.b/c-d_e/0"])
def test_valid_topic_prefix(prefix):
    assert load_settings({"topic_prefix": prefix}).topic_prefix == prefix


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("influx_url", "ftp://h"),
        ("influx_db", "bad db"),
        ("mqtt_client_id", "has space"),
        ("log_level", "verbose"),
        ("batch_size", "0"),
        ("flush_interval", "61"),
        ("influx_timeout", "0"),
    ],
)
def test_other_invalid_settings_are_named(monkeypatch, name, value):
    monkeypatch.setenv(f"FACMON_{name.upper()}", value)
    assert error_of().startswith(f"invalid setting FACMON_{name.upper()}: ")


def test_unknown_key_in_config_file(monkeypatch, tmp_path):
    config(tmp_path, monkeypatch, "influx_db: x\nnot_a_setting: 1\n")
    assert error_of().startswith("invalid setting FACMON_NOT_A_SETTING: ")


def test_invalid_value_in_config_file_is_named(monkeypatch, tmp_path):
    config(tmp_path, monkeypatch, "batch_size: many\n")
    assert error_of().startswith("invalid setting FACMON_BATCH_SIZE: ")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_config_file_not_a_mapping(monkeypatch, tmp_path, text):
    path = config(tmp_path, monkeypatch, text)
    assert error_of() == f"FACMON_CONFIG: {path} must hold a mapping of setting: value"


@pytest.mark.parametrize("text", ["a: [1, 2\nb: c\n", "a:\n\t- b\n", "key: 'open\n", "{a: 1"])
def test_config_file_not_yaml(monkeypatch, tmp_path, text):
    path = config(tmp_path, monkeypatch, text)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert str(info.value).startswith(f"FACMON_CONFIG: {path} is not valid YAML")


@pytest.mark.parametrize("text", ["a: [1, 2\nb: c\n", "a:\n\t- b\n"])
def test_config_file_not_yaml_is_one_line(monkeypatch, tmp_path, text):
    config(tmp_path, monkeypatch, text)
    error_of()


def test_config_file_missing(monkeypatch, tmp_path):
    missing = tmp_path / "nope.yaml"
    monkeypatch.setenv("FACMON_CONFIG", str(missing))
    assert error_of() == f"FACMON_CONFIG: cannot read {missing}: No such file or directory"


def test_config_file_is_a_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("FACMON_CONFIG", str(tmp_path))
    assert error_of() == f"FACMON_CONFIG: cannot read {tmp_path}: Is a directory"


def test_config_file_not_utf8(monkeypatch, tmp_path):
    config(tmp_path, monkeypatch, b"influx_db: caf\xe9\n")
    assert error_of().startswith("FACMON_CONFIG: ")


def test_the_example_env_placeholders_are_refused_wherever_a_password_is_read(monkeypatch) -> None:
    from tests.unit.test_compose import example_env

    for key in [key for key in os.environ if key.startswith("FACMON_")]:
        monkeypatch.delenv(key)
    assert all(is_example_password(value) for key, value in example_env().items() if "PASSWORD" in key)
    for overrides in ({"mqtt_url": "mqtt://u:change-me-mqtt-ingest@h:1884"},
                      {"influx_user": "u", "influx_password": "change-me-influx-ingest"},
                      {"smtp_url": "smtps://u:Change-Me-x@mail:465"}):
        with pytest.raises(SettingsError, match="example password"):
            load_settings(overrides)


def test_an_smtp_login_over_plain_smtp_draws_a_warning(monkeypatch) -> None:
    for key in [key for key in os.environ if key.startswith("FACMON_")]:
        monkeypatch.delenv(key)
    plain = load_settings({"smtp_url": "smtp://mail:25", "smtp_user": "u", "smtp_password": "a-real-secret-1"})
    assert plain.cleartext_warnings() == ["FACMON_SMTP_URL is plain smtp:// with a login: the mail password "
                                          "crosses the network unencrypted; use smtp+starttls:// or smtps://"]
    assert load_settings({"smtp_url": "smtp+starttls://u:a-real-secret-1@mail"}).cleartext_warnings() == []
    assert load_settings({"smtp_url": "smtp://mail:25"}).cleartext_warnings() == []


def test_every_invalid_setting_is_named_at_once_without_its_value(monkeypatch):
    monkeypatch.setenv("FACMON_BATCH_SIZE", "many")
    monkeypatch.setenv("FACMON_MQTT_URL", "http://user:s3cret@host")
    with pytest.raises(SettingsError) as info:
        load_settings()
    lines = str(info.value).splitlines()
    assert sorted(line.split(":")[0] for line in lines) == ["invalid setting FACMON_BATCH_SIZE",
                                                            "invalid setting FACMON_MQTT_URL"]
    assert "s3cret" not in str(info.value)
    assert "many" not in str(info.value)
