"""Issue 17: `facmon devices` against InfluxDB seeded through the real ingester — last reading and age, readings
today against the heartbeat, refusals with the latest reason, online/offline, revisions, unregistered sensors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from facmon.cli.main import main
from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from tests.integration.ingester import COMMUNITY, LIBRARY, REGISTRY_YAML, IngesterProcess, publisher, unique

pytestmark = pytest.mark.servers

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=SHANGHAI)  # a Tuesday: the library opens 09:00-12:00 and 14:00-20:00


def ms(hour: int, minute: int = 0, days_ago: int = 0) -> int:
    moment = NOW.replace(hour=hour, minute=minute) - timedelta(days=days_ago)
    return int(moment.timestamp() * 1000)


@pytest.fixture(scope="module")
def seeded(mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[str, Path]:
    work = tmp_path_factory.mktemp("devices")
    database, prefix = "t_" + unique(""), unique("dev") + "/v1"
    ingester = IngesterProcess(work / "ingester", mqtt_url=mosquitto.url, influx_url=influxdb.url,
                               influx_db=database, topic_prefix=prefix, env={"FACMON_NOW": NOW.isoformat()})
    ingester.start()
    lib = f"{prefix}/{LIBRARY}"
    try:
        with publisher(mosquitto.host, mosquitto.port) as pub:
            pub.publish_many([
                (f"{lib}/door-1/status", "online"),
                *[(f"{lib}/door-1/reading", json.dumps({"ts": ms(9, m), "occupancy": m})) for m in (0, 15, 30)],
                (f"{lib}/door-1/reading", json.dumps({"ts": ms(9, 0), "occupancy": 40})),  # a revision
                (f"{lib}/door-2/reading", json.dumps({"ts": ms(19, 45, days_ago=1), "occupancy": 2})),
                (f"{lib}/door-2/status", "offline"),
                (f"{lib}/door-2/reading", json.dumps({"ts": ms(14, 15), "occupancy": -1})),
                (f"{prefix}/wz-nowhere-9/ghost/reading", json.dumps({"ts": ms(14), "occupancy": 1})),
            ])
        ingester.wait_for_log(r"counters received=9 accepted=5 written=5 statuses=2 .* revisions=1 ")
    finally:
        code, log = ingester.stop()
    assert code == 0, log
    registry = work / "registry.yaml"
    registry.write_text(REGISTRY_YAML, encoding="utf-8")
    return database, registry


def devices(influxdb: LocalInfluxDB, seeded: tuple[str, Path], capsys: pytest.CaptureFixture[str], *extra: str,
            fmt: str = "json") -> str:
    database, registry = seeded
    code = main(["devices", "--influx-url", influxdb.url, "--influx-db", database, "--registry", str(registry),
                 "--now", NOW.isoformat(), "--format", fmt, *extra])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_every_sensor_with_its_health_and_the_unregistered_ones(influxdb, seeded, capsys):
    rows = {(d["facility"], d["sensor"]): d for d in json.loads(devices(influxdb, seeded, capsys))["devices"]}
    assert set(rows) == {(LIBRARY, "door-1"), (LIBRARY, "door-2"), ("wz-nowhere-9", "ghost")}
    one = rows[(LIBRARY, "door-1")]
    assert one["last_reading"] == "2026-12-01T01:30:00Z"  # 09:30 in Shanghai
    assert one["age_s"] == 5 * 3600 + 1800
    assert (one["readings_today"], one["expected_today"]) == (3, 16)  # 3 of 16 heartbeats due by 15:00
    assert (one["status"], one["revisions"], one["refusals_24h"]) == ("online", 1, 0)
    two = rows[(LIBRARY, "door-2")]
    assert (two["readings_today"], two["status"], two["refusals_24h"], two["latest_reason"]) == \
        (0, "offline", 1, "out_of_range")
    assert two["age_s"] == 19 * 3600 + 15 * 60
    ghost = rows[("wz-nowhere-9", "ghost")]
    assert (ghost["registered"], ghost["refusals_24h"], ghost["latest_reason"]) == (False, 1, "unknown_facility")


def test_filters_and_formats(influxdb, seeded, capsys):
    only = json.loads(devices(influxdb, seeded, capsys, "--facility", COMMUNITY))["devices"]
    assert only == []  # nothing reported there, and unregistered sensors only show unfiltered
    table = devices(influxdb, seeded, capsys, "--region", "zhejiang/wenzhou/lucheng", fmt="table")
    assert "door-1" in table
    assert "ghost" not in table
    assert "3/16" in table
    assert "5 hours 30 minutes" in table
    text = devices(influxdb, seeded, capsys, fmt="csv")
    header, *lines = text.splitlines()
    assert header.startswith("facility,sensor,registered,region,last_reading,age,readings_today,expected_today")
    assert len(lines) == 3


def test_the_demos_short_version(influxdb, seeded, capsys):
    from analytics.devices import summary_lines

    lines = summary_lines(json.loads(devices(influxdb, seeded, capsys))["devices"])
    assert lines[0] == "2 sensors: 0 on their heartbeat today, 2 behind, 1 offline, 1 refused in 24 h, 1 revisions"
    assert lines[1] == "1 sensors tried facilities that are not in the registry"
    assert lines[2] == f"  {LIBRARY}/door-2: 1 refused, latest out_of_range"
