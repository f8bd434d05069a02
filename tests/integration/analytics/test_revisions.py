"""Issue 17: a reading re-sent with other values is kept as a revision — through the real ingester into InfluxDB —
and `facmon analyze` reports it as an integrity finding (how many, how late, how large; the revision named), while
its figures use the latest value. An identical redelivery is no revision."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from facmon.cli.main import main
from facmon.core.influxql import MAX_NAMED
from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from tests.conftest import TEST_NOW, pinned_env
from tests.integration.ingester import LIBRARY, REGISTRY_YAML, InfluxReader, IngesterProcess, publisher, unique

pytestmark = pytest.mark.servers


def test_a_changed_resend_is_kept_as_a_revision_and_reported(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_db_name: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = unique("rev") + "/v1"
    ingester = IngesterProcess(tmp_path / "ingester", mqtt_url=mosquitto.url, influx_url=influxdb.url,
                               influx_db=influx_db_name, topic_prefix=prefix, env=pinned_env())
    ts = int((TEST_NOW - timedelta(days=3)).timestamp() * 1000)
    topic = f"{prefix}/{LIBRARY}/door-1/reading"
    ingester.start()
    try:
        with publisher(mosquitto.host, mosquitto.port) as pub:
            pub.publish(topic, json.dumps({"ts": ts, "occupancy": 3}))
            pub.publish(topic, json.dumps({"ts": ts, "occupancy": 3}))  # a redelivery: not a revision
            pub.publish(topic, json.dumps({"ts": ts + 900_000, "occupancy": 4}))
            pub.publish(topic, json.dumps({"ts": ts, "occupancy": 500}))  # history rewritten
        ingester.wait_for_log(r"counters received=4 .* revisions=1 resends_unchecked=0 ")
    finally:
        code, log = ingester.stop()
    assert code == 0, log
    reader = InfluxReader(influxdb.url, influx_db_name)
    [revision] = reader.wait_points("revision", 1)
    assert (revision["old_occupancy"], revision["new_occupancy"]) == (3, 500)
    assert revision["new_received_ms"] >= revision["old_received_ms"]  # the ingester's clock is pinned here
    assert reader.count("reading") == 2
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY_YAML, encoding="utf-8")
    code = main(["analyze", "--influx-url", influxdb.url, "--influx-db", influx_db_name, "--registry", str(registry),
                 "--as-of", TEST_NOW.date().isoformat(), "--window", "7", "--format", "json", "--no-store"])
    out = capsys.readouterr()
    assert code == 0, out.err
    results = {f["facility_id"]: f for f in json.loads(out.out)["facilities"]}
    [finding] = [f for f in results[LIBRARY]["integrity"]["findings"] if f["detector"] == "revisions"]
    assert finding["evidence"]["revisions"] == 1
    assert finding["evidence"]["largest_change"] == 497
    assert "door-1" in finding["reason"]
    assert "occupancy 3 -> 500" in finding["reason"]
    assert not any(f["detector"] == "revisions" for f in results["wz-oh-comm-003"]["integrity"]["findings"])


def test_a_run_of_more_than_max_named_facilities_gets_each_its_own_revisions(
    influxdb: LocalInfluxDB, influx_db_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Above MAX_NAMED facilities the statement names none (InfluxDB 1.6 plans thousands of ORed ids for
    minutes): every facility of the run still gets its own revisions, none of another's or of one outside it."""
    count = MAX_NAMED + 5
    inside = [f"rv-lib-{index:03d}" for index in range(count)]
    outside = "rv-out-000"  # in the registry, not in the run (another region)
    hours = {day: ["08:00-20:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    facilities = [{"id": fid, "name": fid, "type": "library", "region": "zhejiang/wenzhou/lucheng", "capacity": 50,
                   "opening_hours": hours} for fid in inside]
    facilities.append({**facilities[0], "id": outside, "name": outside, "region": "zhejiang/wenzhou/ouhai"})
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump({"facilities": facilities}), encoding="utf-8")
    in_window = int((TEST_NOW - timedelta(days=3)).timestamp()) * 10**9
    before_window = int((TEST_NOW - timedelta(days=30)).timestamp()) * 10**9
    lines, expected = [], {}
    for index, fid in enumerate([*inside, outside]):
        expected[fid] = 7 if fid == outside else index % 3 + 1
        for n in range(expected[fid]):
            ts = in_window + n * 900 * 10**9
            lines.append(f"revision,facility={fid},sensor=door-{index} old_occupancy=3i,new_occupancy={10 + n}i,"
                         f"old_received_ms={ts // 10**6}i,new_received_ms={ts // 10**6 + 3_600_000}i {ts}")
    lines.append(f"revision,facility={inside[0]},sensor=door-0 old_occupancy=1i,new_occupancy=2i,"
                 f"old_received_ms=1i,new_received_ms=2i {before_window}")  # before the window: not counted
    influxdb.query(f'CREATE DATABASE "{influx_db_name}"')
    influxdb.write(influx_db_name, "\n".join(lines))
    code = main(["analyze", "--influx-url", influxdb.url, "--influx-db", influx_db_name, "--registry", str(registry),
                 "--as-of", TEST_NOW.date().isoformat(), "--window", "7", "--format", "json", "--no-store",
                 "--region", "zhejiang/wenzhou/lucheng", "--allow-no-readings"])
    out = capsys.readouterr()
    assert code == 0, out.err
    results = {f["facility_id"]: f for f in json.loads(out.out)["facilities"]}
    assert sorted(results) == inside
    for index, fid in enumerate(inside):
        [finding] = [f for f in results[fid]["integrity"]["findings"] if f["detector"] == "revisions"]
        assert finding["evidence"]["revisions"] == expected[fid], fid
        assert f"door-{index} " in finding["reason"], fid
        assert finding["evidence"]["sensors"] == 1, fid
