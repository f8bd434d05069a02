"""Integrity through InfluxDB: `facmon analyze` carries each facility's findings in its JSON, table and
`facility_status`, and reads them back from the rollup unchanged (tests/integration/analytics/scenario.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from facmon.demo.localstack import LocalInfluxDB
from tests.integration.analytics import scenario
from tests.integration.analytics.test_analyze import analyze, stored

pytestmark = pytest.mark.servers


@pytest.fixture
def loaded(influxdb: LocalInfluxDB, tmp_path: Path) -> tuple[str, Path]:
    database = "t_" + uuid.uuid4().hex[:12]
    influxdb.query(f'CREATE DATABASE "{database}"')
    lines = scenario.readings()
    for start in range(0, len(lines), 20_000):
        influxdb.write(database, "\n".join(lines[start : start + 20_000]))
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(scenario.registry(), allow_unicode=True), encoding="utf-8")
    return database, path


def test_integrity_in_json_table_and_facility_status(influxdb, loaded, capsys):
    database, registry = loaded
    cold = analyze(influxdb, database, registry, capsys, "--rollup", "rebuild")
    results = {f["facility_id"]: f for f in cold["facilities"]}
    # lib-active's sensor says 25 people all day, every day, with 3 entries every 5 minutes and no one leaving:
    # a scripted feed, and ACTIVE all the same.
    active = results["lib-active"]
    assert active["status"] == "ACTIVE"
    assert active["integrity"]["suspect"] is True
    assert "flat_line" in active["integrity"]["detectors"]
    flat = next(f for f in active["integrity"]["findings"] if f["detector"] == "flat_line")
    assert flat["reason"].startswith("occupancy constant at 25 for up to 8 h on 28 open days")
    assert flat["evidence"]["days"] == 28
    # hall-idle's night-time visitors are outside opening hours: nothing to flag.
    assert results["hall-idle"]["integrity"] == {"suspect": False, "detectors": [], "findings": []}
    warm = analyze(influxdb, database, registry, capsys, "--rollup", "use")
    assert {f["facility_id"]: f["integrity"] for f in warm["facilities"]} == \
        {f["facility_id"]: f["integrity"] for f in cold["facilities"]}
    points = {p["facility"]: p for p in stored(influxdb, database, "facility_status")}
    assert points["lib-active"]["suspect"] is True
    assert "flat_line" in points["lib-active"]["integrity_detectors"].split(",")
    assert flat["reason"] in points["lib-active"]["integrity"].split("; ")
    assert points["hall-idle"]["suspect"] is False
    assert points["hall-idle"]["integrity"] == ""
    table = analyze(influxdb, database, registry, capsys, "--no-store", output="table")
    lines = table.splitlines()
    row = next(i for i, text in enumerate(lines) if " lib-active " in text)
    assert lines[row + 1].strip().startswith("DATA_SUSPECT flat_line: occupancy constant at 25")
