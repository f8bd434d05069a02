"""Issue 17: `facmon devices` against InfluxDB seeded through the real ingester — last reading and age, readings
today against the heartbeat, refusals with the latest reason, online/offline, revisions, unregistered sensors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from facmon.cli.main import main
from facmon.core.influxql import MAX_NAMED
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


def test_more_than_max_named_facilities_get_their_own_rows_only(influxdb, influx_db_name, tmp_path, capsys):
    """Above MAX_NAMED facilities the queries name none: every sensor still gets its facility's figures, a
    facility outside the selection shows nowhere, and "today" counts from the facility's own midnight."""
    hours = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    spec = {"type": "library", "region": "zhejiang/wenzhou/lucheng", "capacity": 50, "opening_hours": hours}
    inside = [{**spec, "id": f"dv-lib-{i:03d}", "name": f"lib {i}"} for i in range(MAX_NAMED + 4)]
    berlin = {**spec, "id": "dv-ber-000", "name": "berlin", "timezone": "Europe/Berlin"}
    outside = {**spec, "id": "dv-out-000", "name": "outside", "region": "zhejiang/wenzhou/ouhai"}
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump({"facilities": [*inside, berlin, outside]}), encoding="utf-8")
    now_ns = int(NOW.timestamp()) * 10**9
    berlin_evening = int(datetime(2026, 11, 30, 21, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()) * 10**9
    lines = []
    for fid, ts in [("dv-lib-000", now_ns - 3600 * 10**9), ("dv-lib-000", now_ns - 1800 * 10**9),
                    ("dv-out-000", now_ns - 600 * 10**9), ("dv-ber-000", berlin_evening)]:
        lines.append(f"reading,facility={fid},sensor=door occupancy=1i,received_ms={ts // 10**6}i {ts}")
    for fid in ("dv-lib-001", "dv-out-000"):
        lines.append(f"sensor_status,facility={fid},sensor=door online=true {now_ns - 7200 * 10**9}")
        lines.append(f"revision,facility={fid},sensor=door old_occupancy=1i,new_occupancy=2i,"
                     f"old_received_ms=1i,new_received_ms={now_ns // 10**6}i {now_ns - 3600 * 10**9}")
    influxdb.query(f'CREATE DATABASE "{influx_db_name}"')
    influxdb.write(influx_db_name, "\n".join(lines))
    code = main(["devices", "--influx-url", influxdb.url, "--influx-db", influx_db_name, "--registry", str(registry),
                 "--now", NOW.isoformat(), "--format", "json", "--region", "zhejiang/wenzhou/lucheng"])
    out = capsys.readouterr()
    assert code == 0, out.err
    rows = {d["facility"]: d for d in json.loads(out.out)["devices"]}
    assert set(rows) == {"dv-lib-000", "dv-lib-001", "dv-ber-000"}
    assert (rows["dv-lib-000"]["readings_today"], rows["dv-lib-000"]["status"]) == (2, "unknown")
    assert (rows["dv-lib-001"]["status"], rows["dv-lib-001"]["revisions"]) == ("online", 1)
    # 21:00 yesterday in Berlin is after midnight in Shanghai: not today's reading for the Berlin facility
    assert rows["dv-ber-000"]["readings_today"] == 0
    assert rows["dv-ber-000"]["last_reading"] == "2026-11-30T20:00:00Z"
