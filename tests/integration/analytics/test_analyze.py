"""`facmon analyze` end to end against a real InfluxDB: readings written as line protocol, JSON compared with
figures computed by hand (tests/integration/analytics/scenario.py)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from analytics.analysis import queries
from facmon.cli.main import main
from facmon.core.influx import InfluxClient, InfluxError
from facmon.demo.localstack import LocalInfluxDB, free_port
from tests.integration.analytics import scenario

pytestmark = pytest.mark.servers
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def loaded(influxdb: LocalInfluxDB, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A database holding the scenario's readings, and the registry file; one per module (loading takes time)."""
    database = "t_" + uuid.uuid4().hex[:12]
    influxdb.query(f'CREATE DATABASE "{database}"')
    lines = scenario.readings()
    for start in range(0, len(lines), 20_000):
        influxdb.write(database, "\n".join(lines[start : start + 20_000]))
    path = tmp_path_factory.mktemp("analyze") / "registry.yaml"
    path.write_text(yaml.safe_dump(scenario.registry(), allow_unicode=True), encoding="utf-8")
    return database, path


def analyze(influxdb: LocalInfluxDB, database: str, registry: Path, capsys: pytest.CaptureFixture[str],
            *extra: str, output: str = "json") -> Any:
    code = main(["analyze", "--influx-url", influxdb.url, "--influx-db", database, "--registry", str(registry),
                 "--as-of", scenario.AS_OF.isoformat(), "--format", output, *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out) if output == "json" else captured.out


def stored(influxdb: LocalInfluxDB, database: str, measurement: str) -> list[dict[str, Any]]:
    where = database if measurement == queries.READINGS else f"{database}_evidence"  # analytics.analysis.evidence
    result = influxdb.query(f'SELECT * FROM "{measurement}"', db=where)["results"][0]
    rows = []
    for series in result.get("series", []):
        rows += [dict(zip(series["columns"], values, strict=True)) for values in series["values"]]
    return rows


def test_every_figure_matches_the_hand_computed_one(influxdb, loaded, capsys):
    database, registry = loaded
    data = analyze(influxdb, database, registry, capsys, "--rollup", "off")
    assert data["as_of"] == "2025-11-03"
    assert data["window_days"] == 28
    assert data["counts"] == {"EXEMPT": 1, "NO_DATA": 2, "IDLE": 2, "UNDERUSED": 1, "ACTIVE": 5}
    results = {f["facility_id"]: f for f in data["facilities"]}
    for fid, expected in scenario.EXPECTED.items():
        result = results[fid]
        assert result["status"] == expected["status"], (fid, result["reasons"])
        for name, value in expected.items():
            if name == "reasons":
                assert result["reasons"] == value, fid
            elif name != "status":
                got = result["figures"][name]
                assert got == (None if value is None else pytest.approx(value, abs=1e-6)), (fid, name, got)
    for fid, percentile in scenario.PERCENTILES.items():
        assert results[fid]["type_percentile"] == percentile, fid
    assert [f["status"] for f in data["facilities"]][:5] == ["IDLE", "IDLE", "UNDERUSED", "NO_DATA", "NO_DATA"]


def test_previous_window_and_its_boundaries(influxdb, loaded, capsys):
    database, registry = loaded
    results = {f["facility_id"]: f for f in analyze(influxdb, database, registry, capsys)["facilities"]}
    active = results["lib-active"]
    assert active["previous"]["window"] == {"first_day": "2025-09-08", "last_day": "2025-10-05", "days": 28,
                                            "timezone": "Asia/Shanghai"}
    assert active["previous"]["figures"]["occupancy_rate"] == pytest.approx(0.2)
    assert active["change"]["occupancy_rate"] == pytest.approx(0.05)
    assert active["change"]["visits_per_open_day"] == 0.0
    # gym-night's full house after midnight on Monday 10-06 belongs to Sunday 10-05, the previous window.
    gym = results["gym-night"]
    assert gym["previous"]["figures"]["covered_hours"] == 1.0
    assert gym["previous"]["figures"]["occupancy_rate"] == pytest.approx(1.0)
    assert gym["window"]["first_day"] == "2025-10-06"
    assert results["berlin-dst"]["window"]["timezone"] == "Europe/Berlin"


def test_the_rollup_gives_the_same_answer_and_follows_registry_changes(influxdb, loaded, capsys, tmp_path):
    database, registry = loaded
    raw = analyze(influxdb, database, registry, capsys, "--rollup", "off", "--no-store")
    first = analyze(influxdb, database, registry, capsys, "--rollup", "rebuild")
    kept = stored(influxdb, database, "analytics_day")
    assert kept, "nothing was kept in the rollup"
    assert {row["facility"] for row in kept} >= {"lib-active", "berlin-dst", "pool-half"}
    second = analyze(influxdb, database, registry, capsys)
    assert first == raw
    assert second == raw
    # Change lib-cov60's hours: its stored days no longer match and are computed again.
    changed = yaml.safe_load(registry.read_text(encoding="utf-8"))
    for spec in changed["facilities"]:
        if spec["id"] == "lib-cov60":
            spec["opening_hours"] = {d: ["10:00-13:00"] for d in scenario.DAILY}
    moved = tmp_path / "registry.yaml"
    moved.write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
    warm = analyze(influxdb, database, moved, capsys, "--facility", "lib-cov60", "--no-store")
    cold = analyze(influxdb, database, moved, capsys, "--facility", "lib-cov60", "--rollup", "off", "--no-store")
    assert warm == cold
    assert warm["facilities"][0]["figures"]["coverage"] == 1.0


def test_statuses_are_stored_and_a_rerun_replaces_them(influxdb, loaded, capsys, tmp_path):
    database, registry = loaded
    analyze(influxdb, database, registry, capsys)
    rules = tmp_path / "rules.yaml"
    rules.write_text("types:\n  library:\n    min_occupancy_rate: 0.26\n")
    data = analyze(influxdb, database, registry, capsys, "--rules", str(rules))
    assert {f["facility_id"]: f["status"] for f in data["facilities"]}["lib-active"] == "UNDERUSED"
    rows = stored(influxdb, database, "facility_status")
    assert len(rows) == len(scenario.FACILITIES)  # replaced, not duplicated, although a status changed
    assert {row["time"] for row in rows} == {"2025-11-03T00:00:00Z"}
    active = next(row for row in rows if row["facility"] == "lib-active")
    assert active["status"] == "UNDERUSED"
    assert active["occupancy_rate"] == pytest.approx(0.25)
    assert active["reasons"] == "mean occupancy 25% of capacity (< 26%)"
    assert active["department"] == "文广旅体局"
    assert (active["type"], active["region"]) == ("library", "zhejiang/wenzhou/lucheng")


def test_filters_and_csv(influxdb, loaded, capsys):
    database, registry = loaded
    text = analyze(influxdb, database, registry, capsys, "--facility", "gym-night", "--facility", "lib-active",
                   "--no-store", output="csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["facility_id"], r["status"]) for r in rows] == [("gym-night", "ACTIVE"), ("lib-active", "ACTIVE")]
    assert rows[1]["visits_per_open_day"] == "288.0"
    data = analyze(influxdb, database, registry, capsys, "--region", "zhejiang/hangzhou", "--no-store")
    assert sorted(f["facility_id"] for f in data["facilities"]) == ["berlin-dst", "pool-closed", "pool-half"]
    table = analyze(influxdb, database, registry, capsys, "--no-store", output="table")
    assert table.splitlines()[2].startswith("IDLE")


def test_unknown_facility_and_missing_database_fail_cleanly(influxdb, loaded, capsys):
    database, registry = loaded
    assert main(["analyze", "--influx-url", influxdb.url, "--influx-db", database, "--registry", str(registry),
                 "--facility", "nope"]) == 2
    assert "not in the registry: nope" in capsys.readouterr().err
    code = main(["analyze", "--influx-url", influxdb.url, "--influx-db", "t_missing_" + uuid.uuid4().hex[:6],
                 "--registry", str(registry), "--as-of", "2025-11-03"])
    assert code == 1
    assert "database not found" in capsys.readouterr().err


def test_a_failed_statement_is_not_taken_for_silence(influxdb, loaded):
    database, _ = loaded
    client = InfluxClient(influxdb.url, database)
    good = queries.reading_statements(["lib-active"], [(1759712400 * 10**9, 1759713300 * 10**9)])
    try:
        [answer] = queries.run_statements(client, good)
        assert "lib-active" in answer
        # InfluxDB's CSV answers 200 with the first statement's rows and no word of the failed second one.
        with pytest.raises(queries.IncompleteAnswer):
            queries.run_statements(client, [*good, "SELECT nosuchfunction(occupancy) FROM reading", *good])
        with pytest.raises(InfluxError):
            queries.run_statements(client, ["SELECT nosuchfunction(occupancy) FROM reading", *good])
    finally:
        client.close()


def _start(registry: Path, url: str, database: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "facmon", "analyze", "--every", "1h", "--influx-url", url, "--influx-db",
         database, "--registry", str(registry), "--as-of", "2025-11-03", "--format", "json", "--no-store"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )


def _wait_for(stream: io.TextIOBase | Any, needle: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        text = stream.readline()
        seen += text
        if needle in text:
            return seen
    raise AssertionError(f"{needle!r} not seen within {timeout} s:\n{seen}")


def test_every_survives_an_unreachable_database_and_stops_on_sigterm(loaded):
    _, registry = loaded
    child = _start(registry, f"http://127.0.0.1:{free_port()}", "facmon")
    try:
        _wait_for(child.stderr, "run failed; retrying in 30 s")
        assert child.poll() is None  # a failed run is not fatal
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()


def test_every_prints_each_run_until_sigterm(influxdb, loaded):
    database, registry = loaded
    child = _start(registry, influxdb.url, database)
    try:
        _wait_for(child.stderr, "next run in")
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=10)
        assert child.returncode == 0
        assert json.loads(out)["counts"]["ACTIVE"] == 5
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
