"""`facmon check-config` against the real secured broker (logins, ACL, TLS) and InfluxDB (auth on).

Each case starts from a configuration that passes and breaks one thing; the check it concerns must fail with
words that say what to fix, and the other checks must still pass. Most cases run `facmon.cli.main.main` in this
process (the servers are what matters, and a subprocess costs seconds of imports); one runs the real command.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from facmon.cli.main import main
from facmon.demo.localstack import LocalMosquitto, free_port
from tests.integration.security.conftest import INGEST_USER, BrokerFiles, Pki, SecureInflux, run_facmon

pytestmark = pytest.mark.servers


@dataclass
class Config:
    """The flags and FACMON_* variables of one check-config run."""

    flags: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)

    def argv(self) -> list[str]:
        """The URL, which holds a password, goes in the environment as documented (run() sets it), not a flag."""
        flags = {k: v for k, v in self.flags.items() if k != "mqtt-url"}
        return ["check-config", "--timeout", "3", *(x for k, v in flags.items() for x in (f"--{k}", v))]


@pytest.fixture
def good(tls_broker: LocalMosquitto, broker_files: BrokerFiles, pki: Pki, secure_influx: SecureInflux) -> Config:
    password = broker_files.passwords[INGEST_USER]
    return Config(
        flags={
            "registry": str(broker_files.registry),
            "mqtt-url": f"mqtts://{INGEST_USER}:{password}@127.0.0.1:{broker_files.tls_services_port}",
            "mqtt-ca-file": str(pki.ca.path),
            "influx-url": secure_influx.server.url,
            "influx-db": secure_influx.database,
        },
        env={"FACMON_INFLUX_USER": INGEST_USER, "FACMON_INFLUX_PASSWORD": secure_influx.passwords[INGEST_USER]},
    )


def run(config: Config, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    for key in list(os.environ):
        if key.upper().startswith("FACMON_"):
            monkeypatch.delenv(key)
    for key, value in {**config.env, "FACMON_MQTT_URL": config.flags["mqtt-url"]}.items():
        monkeypatch.setenv(key, value)
    code = main(config.argv())
    out, err = capsys.readouterr()
    return code, out + err


def secrets_of(config: Config) -> list[str]:
    url = config.flags["mqtt-url"]
    found = [url.split("@")[0].split(":")[-1]] if "@" in url else []
    return found + [value for key, value in config.env.items() if "PASSWORD" in key]


def test_a_good_configuration_passes_with_a_short_summary(
    good: Config, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(good, monkeypatch, capsys)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[-1] == "OK: all 3 checks passed"
    assert [line.split()[0] for line in lines[:-1]] == ["ok", "ok", "ok", "WARNING"]
    assert lines[3].startswith("WARNING ingester  NOT LIVE: no ingester answered a probe"), out  # none runs here
    assert "registry.yaml: 2 facilities" in out
    assert f"logged in as {INGEST_USER}, TLS certificate verified" in out
    assert "InfluxDB 1.6.7" in out
    assert "database facmon_sec exists, user ingest-east may write" in out
    for secret in secrets_of(good):
        assert secret not in out


def _broker(good: Config, url: str, **flags: str) -> dict[str, str]:
    return {**good.flags, "mqtt-url": url, **flags}


def _wrong_password(good: Config) -> dict[str, str]:
    return _broker(good, good.flags["mqtt-url"].replace(f"{INGEST_USER}:", f"{INGEST_USER}:x"))


CASES = {
    "broker unreachable": ("broker", lambda g, f: _broker(g, f"mqtt://127.0.0.1:{free_port()}", **{"mqtt-ca-file": ""}),
                           {}, "connection refused: no broker listens on that host and port"),
    "broker wrong password": ("broker", lambda g, f: _wrong_password(g), {},
                              "the broker refused the login (Not authorized): wrong password for user 'ingest-east'"),
    "broker anonymous": ("broker", lambda g, f: _broker(g, f"mqtts://127.0.0.1:{f.tls_services_port}"), {},
                         "it wants a login: put user:password into FACMON_MQTT_URL"),
    "tls wrong ca": ("broker", lambda g, f: {**g.flags, "mqtt-ca-file": "OTHER_CA"}, {},
                     "the broker's TLS certificate is not trusted (unable to get local issuer certificate)"),
    "tls wrong host": ("broker", lambda g, f: _broker(g, g.flags["mqtt-url"].replace("127.0.0.1", "localhost")), {},
                       "is not valid for 'localhost'"),
    "tls missing ca file": ("broker", lambda g, f: {**g.flags, "mqtt-ca-file": "/nonexistent/ca.pem"}, {},
                            "cannot load CA certificates from FACMON_MQTT_CA_FILE /nonexistent/ca.pem"),
    "tls on a plain port": ("broker",
                            lambda g, f: _broker(g, g.flags["mqtt-url"].replace(str(f.tls_services_port), "PLAIN")),
                            {}, "the broker closed the connection at once (mqtts:// to a plain listener?)"),
    "plain on a tls port": ("broker", lambda g, f: _broker(g, g.flags["mqtt-url"].replace("mqtts", "mqtt"),
                                                          **{"mqtt-ca-file": ""}),
                            {}, "(if that port is a TLS listener, use mqtts://)"),
    "influx unreachable": ("influxdb", lambda g, f: {**g.flags, "influx-url": f"http://127.0.0.1:{free_port()}"}, {},
                           "cannot reach InfluxDB"),
    "influx wrong password": ("influxdb", lambda g, f: g.flags, {"FACMON_INFLUX_PASSWORD": "wrong-password-123"},
                              "InfluxDB refused the credentials: wrong password for user 'ingest-east'"),
    "influx no credentials": ("influxdb", lambda g, f: g.flags,
                              {"FACMON_INFLUX_USER": "", "FACMON_INFLUX_PASSWORD": ""},
                              "it requires credentials: set FACMON_INFLUX_USER and FACMON_INFLUX_PASSWORD"),
    "influx unknown database": ("influxdb", lambda g, f: {**g.flags, "influx-db": "no_such_db"}, {},
                                "database 'no_such_db' does not exist (FACMON_INFLUX_DB)"),
    "influx no write right": ("influxdb", lambda g, f: {**g.flags, "influx-db": "not_granted"}, {},
                              "ingest-east may not write to database 'not_granted'; an admin must run GRANT WRITE"),
    "registry errors": ("registry", lambda g, f: {**g.flags, "registry": "BAD_REGISTRY"}, {},
                        "facilities[0] (wz-x) capacity: must be greater than 0"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_problem_is_reported_in_plain_words_and_fails_the_command(
    case: str, good: Config, broker_files: BrokerFiles, pki: Pki, tls_broker: LocalMosquitto,
    secure_influx: SecureInflux, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    failing, make_flags, env, expected = CASES[case]
    secure_influx.server.query('CREATE DATABASE "not_granted"')
    bad_registry = tmp_path / "registry.yaml"
    bad_registry.write_text("facilities:\n  - {id: wz-x, name: X, type: library, region: a/b, capacity: 0,"
                            " opening_hours: {}}\n")
    flags = {
        key: value.replace("OTHER_CA", str(pki.other_ca.path)).replace("BAD_REGISTRY", str(bad_registry))
        .replace("PLAIN", str(tls_broker.port))  # localstack's own plain listener
        for key, value in make_flags(good, broker_files).items()
        if value
    }
    config = Config(flags, {key: value for key, value in {**good.env, **env}.items() if value})
    code, out = run(config, monkeypatch, capsys)
    assert code == 1, out
    status = {line.split()[1]: line.split()[0] for line in out.splitlines() if line.split()[0] in ("ok", "PROBLEM")}
    assert status == {"registry": "ok", "broker": "ok", "influxdb": "ok", failing: "PROBLEM"}, out
    assert expected in out, out
    assert out.splitlines()[-1] == f"1 of 3 checks failed: {failing}"
    for secret in secrets_of(good):
        assert secret not in out


def test_the_real_command_exits_1_and_prints_no_secret(good: Config, tmp_path: Path) -> None:
    broken = _wrong_password(good)
    env = {**good.env, "FACMON_INFLUX_PASSWORD": "wrong-password-456", "FACMON_MQTT_URL": broken["mqtt-url"]}
    result = run_facmon(*Config(broken).argv(), env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "2 of 3 checks failed: broker, influxdb"
    assert result.stderr == ""
    for secret in [*secrets_of(good), "x" + secrets_of(good)[0], "wrong-password-456"]:
        assert secret not in result.stdout


def test_a_password_in_the_mqtt_url_flag_draws_a_warning(
    good: Config, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in list(os.environ):
        if key.upper().startswith("FACMON_"):
            monkeypatch.delenv(key)
    for key, value in good.env.items():
        monkeypatch.setenv(key, value)
    assert main([*good.argv(), "--mqtt-url", good.flags["mqtt-url"]]) == 0
    _, err = capsys.readouterr()
    assert "warning: --mqtt-url holds a password, which every local user can read in /proc/PID/cmdline" in err
    assert good.flags["mqtt-url"].split("@")[0].split(":")[-1] not in err
