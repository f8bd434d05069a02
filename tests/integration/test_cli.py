"""The `facmon` command as users run it: a subprocess, its exit code, its stdout and stderr (and its log).

Settings errors must be one line naming the setting, and no output or log may ever carry a password.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto, free_port, require_binary
from tests.integration.ingester import (
    LIBRARY,
    REGISTRY_YAML,
    IngesterProcess,
    now_ms,
    publisher,
    unique,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_REGISTRY = REPO / "examples" / "registry.yaml"
DATA = REPO / "tests" / "data"
SECRET = "s3cret"
SECRET_FORMS = (SECRET, base64.b64encode(f"u:{SECRET}".encode()).decode())


def facmon(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m facmon ARGS` with only the FACMON_* settings given here."""
    base = {key: value for key, value in os.environ.items() if not key.upper().startswith("FACMON_")}
    return subprocess.run(
        [sys.executable, "-m", "facmon", *args],
        env={**base, **(env or {})},
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_no_secret(text: str) -> None:
    for form in SECRET_FORMS:
        assert form not in text


# -- schema --------------------------------------------------------------------------------------------------------
def test_schema_prints_a_valid_json_schema_that_matches_the_contract() -> None:
    result = facmon("schema")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    good = {"ts": "2025-11-27T10:15:00+08:00", "occupancy": 12, "entries": 3, "exits": 1, "seq": 7}
    assert validator.is_valid(good)
    assert validator.is_valid([good, {"ts": 1764209700, "uses": 2}])
    assert validator.is_valid({"ts": 1764209700123, "entries": 0})
    for bad in (
        {"occupancy": 1},  # no ts
        {"ts": 1764209700},  # no count
        {"ts": 1764209700, "occupancy": "1"},
        {"ts": 1764209700, "occupancy": -1},
        {"ts": 1764209700, "occupancy": 100_001},
        {"ts": 1764209700, "occupancy": 1.5},
        {"ts": 1764209700, "occupancy": 1, "temperature": 20},
        {"ts": "2025-11-27T10:15:00", "occupancy": 1},  # no offset
        [],
        [{"ts": 1764209700, "uses": 1}] * 1001,
    ):
        assert not validator.is_valid(bad), bad


# -- registry ------------------------------------------------------------------------------------------------------
def test_registry_check_accepts_the_example() -> None:
    result = facmon("registry", "check", str(EXAMPLE_REGISTRY))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"{EXAMPLE_REGISTRY}: 3 facilities, types: community_center, library, sports_hall"
    )
    assert result.stderr == ""


def test_registry_check_names_the_facility_and_field_of_a_mistake(tmp_path: Path) -> None:
    bad = tmp_path / "registry.yaml"
    bad.write_text(REGISTRY_YAML.replace("capacity: 60", "capacity: -5"), encoding="utf-8")
    result = facmon("registry", "check", str(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"facmon: {bad}: ")
    assert "(wz-oh-comm-003) capacity" in line
    assert "greater than 0" in line


def test_registry_check_reports_every_mistake_at_once() -> None:
    result = facmon("registry", "check", str(DATA / "registry_bad_many.yaml"))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 3
    assert "facilities[0] (wz-lc-lib-001) capacity" in lines[0]
    assert "facilities[0] (wz-lc-lib-001) opening_hours.tue[1]" in lines[1]
    assert "facilities[1] (wz-lc-lib-001) id: duplicate of facilities[0]" in lines[2]


def test_registry_check_of_a_missing_file(tmp_path: Path) -> None:
    result = facmon("registry", "check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"facmon: {tmp_path / 'nope.yaml'}: cannot read the file: No such file or directory"


def test_registry_import_of_a_csv(tmp_path: Path) -> None:
    result = facmon("registry", "import", str(DATA / "registry_good.csv"))
    assert result.returncode == 0, result.stderr
    data = yaml.safe_load(result.stdout)
    facilities = {f["id"]: f for f in data["facilities"]}
    assert list(facilities) == ["wz-lc-lib-001", "wz-lc-gym-002"]
    library, gym = facilities["wz-lc-lib-001"], facilities["wz-lc-gym-002"]
    assert (library["type"], library["region"], library["capacity"]) == ("library", "zhejiang/wenzhou/lucheng", 120)
    assert library["opening_hours"]["tue"] == ["09:00-12:00", "14:00-20:00"]
    assert [c["reason"] for c in library["closures"]] == ["国庆节", "repairs"]
    assert library["location"] == {"lat": 28.0, "lon": 120.65}
    assert (gym["name"], gym["capacity"], gym["timezone"]) == ("羽毛球馆, 二楼", 80, "Asia/Shanghai")
    assert gym["opening_hours"] == {"mon": ["06:00-09:00", "17:00-22:00"], "fri": ["17:00-02:00"]}

    out = tmp_path / "imported.yaml"
    written = facmon("registry", "import", str(DATA / "registry_good.csv"), "-o", str(out))
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    assert written.stderr.strip() == f"wrote 2 facilities to {out}"
    assert out.read_text(encoding="utf-8") == result.stdout
    checked = facmon("registry", "check", str(out))
    assert checked.returncode == 0, checked.stderr
    assert "2 facilities" in checked.stdout


def test_registry_import_of_a_bad_csv_names_rows_and_columns(tmp_path: Path) -> None:
    out = tmp_path / "never.yaml"
    result = facmon("registry", "import", str(DATA / "registry_bad.csv"), "-o", str(out))
    assert result.returncode == 2
    assert "row 2 (wz-a) column capacity: must be a whole number (got 'ten')" in result.stderr
    assert "row 5 (wz-a) column id: duplicate of row 2" in result.stderr
    assert not out.exists()


# -- settings errors -----------------------------------------------------------------------------------------------
SETTINGS_ERRORS = [
    ({"FACMON_MQTT_URL": "http://x"}, "FACMON_MQTT_URL"),
    ({"FACMON_MQTT_URL": f"http://u:{SECRET}@127.0.0.1:1883"}, "FACMON_MQTT_URL"),
    ({"FACMON_MQTT_URL": f"mqtt://u:{SECRET}@127.0.0.1:notaport"}, "FACMON_MQTT_URL"),
    ({"FACMON_MQTT_URL": f"mqtt://u:{SECRET}@127.0.0.1:1883/path"}, "FACMON_MQTT_URL"),
    ({"FACMON_MQTT_URL": f"mqtt://u:{SECRET}@127.0.0.1:1", "FACMON_MAX_READING_AGE": "12x"}, "FACMON_MAX_READING_AGE"),
    ({"FACMON_MQTT_URL": f"mqtt://u:{SECRET}@127.0.0.1:1", "FACMON_MAX_READING_AGE": "0"}, "FACMON_MAX_READING_AGE"),
    ({"FACMON_MQTT_URL": f"mqtt://u:{SECRET}@127.0.0.1:1", "FACMON_BATCH_SIZE": "0"}, "FACMON_BATCH_SIZE"),
    ({"FACMON_MQTT_URL": f"mqtt://u:{SECRET}@127.0.0.1:1", "FACMON_INFLUX_URL": "ftp://x"}, "FACMON_INFLUX_URL"),
    ({"FACMON_INFLUX_URL": f"http://u:{SECRET}@127.0.0.1:8086"}, "FACMON_INFLUX_URL"),
    ({"FACMON_INFLUX_DB": "no spaces please"}, "FACMON_INFLUX_DB"),
    ({"FACMON_TOPIC_PREFIX": "facmon/#"}, "FACMON_TOPIC_PREFIX"),
    ({"FACMON_MQTT_CLIENT_ID": "has space"}, "FACMON_MQTT_CLIENT_ID"),
    ({"FACMON_LOG_LEVEL": "LOUD"}, "FACMON_LOG_LEVEL"),
    ({"FACMON_FLUSH_INTERVAL": "soon"}, "FACMON_FLUSH_INTERVAL"),
    ({"FACMON_INFLUX_PASSWORD": SECRET}, "FACMON_INFLUX_USER and FACMON_INFLUX_PASSWORD"),
    (
        {"FACMON_INFLUX_TOKEN": SECRET, "FACMON_INFLUX_USER": "u", "FACMON_INFLUX_PASSWORD": SECRET},
        "FACMON_INFLUX_TOKEN",
    ),
]


@pytest.mark.parametrize(
    ("env", "setting"), SETTINGS_ERRORS, ids=[f"{case[1]}-{i}" for i, case in enumerate(SETTINGS_ERRORS)]
)
def test_invalid_setting_is_one_line_naming_it_without_secrets(
    tmp_path: Path, env: dict[str, str], setting: str
) -> None:
    (tmp_path / "registry.yaml").write_text(REGISTRY_YAML, encoding="utf-8")
    result = facmon("ingest", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"facmon: invalid setting {setting}")
    assert_no_secret(result.stderr)


def test_invalid_flag_value_is_one_line_without_secrets(tmp_path: Path) -> None:
    result = facmon("ingest", "--mqtt-url", f"mqtts://u:{SECRET}@", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("facmon: invalid setting FACMON_MQTT_URL")
    assert_no_secret(result.stdout + result.stderr)


def test_ingest_with_a_missing_registry_exits_2(tmp_path: Path) -> None:
    result = facmon(
        "ingest",
        env={"FACMON_MQTT_URL": f"mqtt://u:{SECRET}@127.0.0.1:1", "FACMON_REGISTRY": str(tmp_path / "nope.yaml")},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line == f"facmon: {tmp_path / 'nope.yaml'}: cannot read the file: No such file or directory"
    assert_no_secret(result.stderr)


# -- secrets stay out of logs with real servers ----------------------------------------------------------------------
@pytest.fixture
def password_broker(tmp_path: Path) -> Iterator[LocalMosquitto]:
    """A broker that lets in only user `u` with password SECRET."""
    passwords = tmp_path / "passwords"
    subprocess.run([require_binary("mosquitto_passwd"), "-b", "-c", str(passwords), "u", SECRET], check=True)
    passwords.chmod(0o600)
    broker = LocalMosquitto(tmp_path / "broker", extra_config=f"password_file {passwords}\nallow_anonymous false")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.mark.servers
def test_wrong_broker_password_is_not_logged(
    password_broker: LocalMosquitto, influxdb: LocalInfluxDB, influx_db_name: str, tmp_path: Path
) -> None:
    common = {"influx_url": influxdb.url, "influx_db": influx_db_name, "topic_prefix": unique("c") + "/v1"}
    wrong = IngesterProcess(
        tmp_path / "wrong", mqtt_url=f"mqtt://u:not-{SECRET}@127.0.0.1:{password_broker.port}", **common
    )
    wrong.start(wait_connected=False)
    try:
        wrong.wait_for_log("refused the connection")
        assert wrong.running  # it keeps retrying: the password may be fixed on the broker's side
        code, log = wrong.stop()
    finally:
        wrong.kill()
    assert code == 0, log
    assert f"mqtt://u:***@127.0.0.1:{password_broker.port}" in log
    assert_no_secret(log)

    right = IngesterProcess(
        tmp_path / "right", mqtt_url=f"mqtt://u:{SECRET}@127.0.0.1:{password_broker.port}", **common
    )
    right.start()
    try:
        assert f"connected to mqtt://u:***@127.0.0.1:{password_broker.port}" in right.run_log
        code, log = right.stop()
    finally:
        right.kill()
    assert code == 0, log
    assert_no_secret(right.log)


@pytest.mark.servers
@pytest.mark.parametrize(
    "credentials",
    [
        {"FACMON_INFLUX_USER": "u", "FACMON_INFLUX_PASSWORD": SECRET},
        {"FACMON_INFLUX_TOKEN": SECRET},
    ],
    ids=["user-password", "token"],
)
def test_unreachable_influxdb_is_retried_and_its_credentials_are_not_logged(
    mosquitto: LocalMosquitto, tmp_path: Path, credentials: dict[str, str]
) -> None:
    env = dict(credentials)
    prefix = unique("c") + "/v1"
    ingester = IngesterProcess(
        tmp_path,
        mqtt_url=mosquitto.url,
        influx_url=f"http://127.0.0.1:{free_port()}",
        influx_db="facmon_unreachable",
        topic_prefix=prefix,
        env=env,
    )
    ingester.start()
    try:
        assert "not ready yet" in ingester.run_log
        with publisher(mosquitto.host, mosquitto.port) as pub:
            pub.publish(f"{prefix}/{LIBRARY}/door-1/reading", json.dumps({"ts": now_ms(), "occupancy": 1}))
        ingester.wait_for_log("InfluxDB write failed")
        ingester.wait_for_log(r"counters received=1 accepted=1 written=0 .* pending=1 ")
        assert ingester.running
    finally:
        ingester.kill()  # SIGTERM would wait for InfluxDB to take the pending reading
    assert_no_secret(ingester.log)


@pytest.mark.servers
@pytest.mark.parametrize(
    "credentials",
    [{"FACMON_INFLUX_USER": "admin", "FACMON_INFLUX_PASSWORD": SECRET}, {"FACMON_INFLUX_TOKEN": SECRET}],
    ids=["user-password", "token"],
)
def test_wrong_influxdb_credentials_stop_the_ingester_without_logging_them(
    mosquitto: LocalMosquitto, tmp_path: Path, credentials: dict[str, str]
) -> None:
    with LocalInfluxDB(tmp_path / "influxdb", auth=True) as influx:
        ingester = IngesterProcess(
            tmp_path / "ingester",
            mqtt_url=mosquitto.url,
            influx_url=influx.url,
            influx_db="facmon",
            topic_prefix=unique("c") + "/v1",
            env=credentials,
        )
        ingester.start(wait_connected=False)
        try:
            code = ingester.wait_exit(30)
        finally:
            ingester.kill()
    log = ingester.log
    assert code == 1, log
    [line] = log.splitlines()
    assert line.startswith(f"facmon: InfluxDB at {influx.url}: InfluxDB refused the credentials (401)")
    assert_no_secret(log)
