"""A registry written in Chinese, end to end: ingest -> InfluxDB -> analyze --region 浙江省/丽水市 with China's
calendar -> statuses -> report, and the region as the dashboards' regex variables put it into InfluxQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from facmon.cli.main import main
from facmon.core.influxql import regex_literal
from facmon.demo.localstack import LocalInfluxDB
from tests.integration.ingester import InfluxReader, IngesterFactory, Publisher, make_ingester, publisher, reader
from tests.integration.test_ingest import reading_topic

__all__ = ["make_ingester", "reader"]  # fixtures used by name
pytestmark = pytest.mark.servers

JINYUN, HANGZHOU = "浙江省/丽水市/缙云县", "浙江省/杭州市"
FIRST, LAST = date(2025, 9, 27), date(2025, 10, 12)  # National Day 10-01..10-08 in the middle
NATIONAL_DAY = {date(2025, 10, 1) + timedelta(days=i) for i in range(8)}
HOURS = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
REGISTRY = {
    "types": {"cultural_hall": {"zh_CN": "农村文化礼堂"}},
    "facilities": [
        {"id": "jy-cul-01", "name": "东渡村文化礼堂", "type": "cultural_hall", "region": JINYUN, "capacity": 50,
         "opening_hours": HOURS, "holidays": "closed"},
        {"id": "hz-lib-01", "name": "杭州图书馆", "type": "library", "region": HANGZHOU, "capacity": 50,
         "opening_hours": HOURS},
    ],
}


@pytest.fixture
def prefix() -> str:
    return "zh/v1"


@pytest.fixture
def pub(mosquitto) -> Publisher:
    with publisher(mosquitto.host, mosquitto.port) as client:
        yield client


def test_a_chinese_region_goes_from_ingest_to_analysis_report_and_dashboard_queries(
    make_ingester: IngesterFactory, pub: Publisher, reader: InfluxReader, influxdb: LocalInfluxDB,
    influx_db_name: str, prefix: str, tmp_path, capsys, monkeypatch,
):
    ingester = make_ingester({"FACMON_MAX_READING_AGE": "3650d"},
                             registry_text=yaml.safe_dump(REGISTRY, allow_unicode=True))
    ingester.start()
    zone, count = ZoneInfo("Asia/Shanghai"), 0
    for day in (FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)):
        opening = datetime(day.year, day.month, day.day, 9, tzinfo=zone)
        people = 0 if day in NATIONAL_DAY else 6  # nobody on the holidays: the hall is closed then
        batch = [{"ts": int((opening + timedelta(minutes=15 * n)).timestamp() * 1000), "occupancy": people}
                 for n in range(32)]
        pub.publish(reading_topic(prefix, "jy-cul-01", "door-1"), json.dumps(batch))
        count += len(batch)
    points = reader.wait_points("reading", count)
    assert {p["region"] for p in points} == {JINYUN}  # a tag value in line protocol, read back as written

    monkeypatch.setenv("FACMON_NOW", datetime(2025, 10, 20, tzinfo=UTC).isoformat())
    common = ["--influx-url", influxdb.url, "--influx-db", influx_db_name, "--registry", str(ingester.registry_path)]
    code = main(["analyze", *common, "--as-of", "2025-10-13", "--window", "16", "--region", "浙江省/丽水市",
                 "--store", "--format", "json"])  # a filtered run stores only when asked
    out = capsys.readouterr()
    assert code == 0, out.err
    [hall] = json.loads(out.out)["facilities"]
    assert (hall["facility_id"], hall["region"], hall["status"]) == ("jy-cul-01", JINYUN, "ACTIVE")
    assert hall["figures"]["open_days"] == 8  # the 8 holidays are not open days, so not idle days either
    assert hall["figures"]["idle_day_share"] == 0.0

    evidence = f"{influx_db_name}_evidence"
    query = f'SELECT * FROM "facility_status" WHERE "region" =~ {regex_literal(JINYUN)}'  # as Grafana's :regex
    [series] = influxdb.query(query, db=evidence)["results"][0]["series"]
    facility = series["columns"].index("facility")
    assert [row[facility] for row in series["values"]] == ["jy-cul-01"]
    tags = influxdb.query('SHOW TAG VALUES FROM "facility_status" WITH KEY = "region"', db=evidence)
    assert [v[1] for v in tags["results"][0]["series"][0]["values"]] == [JINYUN]

    report = tmp_path / "report.html"
    code = main(["report", *common, "--as-of", "2025-10-13", "--region", "浙江省/丽水市", "--output", str(report)])
    assert code == 0, capsys.readouterr().err
    html = report.read_text(encoding="utf-8")
    assert JINYUN in html
    assert "东渡村文化礼堂" in html
