"""One facility, one verdict: `facmon analyze --facility/--region` shows each facility exactly as the full run
judges it (clone and late_arrival compare against the whole registry), and a filtered run writes nothing unless
--store says so (analytics.analysis.scope; tests/integration/analytics/network.py)."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facmon.cli.main import main
from facmon.demo.localstack import LocalInfluxDB
from tests.integration.analytics import network
from tests.integration.analytics.test_analyze import stored

pytestmark = pytest.mark.servers
IDS = sorted({**network.HONEST, **network.CLONES, **network.LATE})
REGIONS = ("zhejiang/wenzhou", "zhejiang/hangzhou", "zhejiang")


@pytest.fixture(scope="module")
def seeded(influxdb: LocalInfluxDB, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The network's readings in a database of their own, once per module."""
    database = "t_" + uuid.uuid4().hex[:12]
    influxdb.query(f'CREATE DATABASE "{database}"')
    influxdb.write(database, "\n".join(network.readings()))
    path = tmp_path_factory.mktemp("verdict") / "registry.yaml"
    path.write_text(yaml.safe_dump(network.registry()), encoding="utf-8")
    return database, path


def run(influxdb: LocalInfluxDB, seeded: tuple[str, Path], capsys: pytest.CaptureFixture[str],
        *extra: str) -> dict[str, Any]:
    database, registry = seeded
    code = main(["analyze", "--influx-url", influxdb.url, "--influx-db", database, "--registry", str(registry),
                 "--as-of", network.AS_OF.isoformat(), "--window", f"{network.WINDOW_DAYS}d", "--format", "json",
                 *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return {f["facility_id"]: f for f in json.loads(captured.out)["facilities"]}


def verdict(result: dict[str, Any]) -> tuple[Any, ...]:
    return result["status"], result["integrity"], result["type_percentile"]


@pytest.fixture(scope="module")
def full(influxdb: LocalInfluxDB, seeded: tuple[str, Path]) -> dict[str, Any]:
    """The unfiltered run's results (capsys is per test, so this one reads stdout itself)."""
    database, registry = seeded
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["analyze", "--influx-url", influxdb.url, "--influx-db", database, "--registry",
                     str(registry), "--as-of", network.AS_OF.isoformat(), "--window", f"{network.WINDOW_DAYS}d",
                     "--format", "json", "--no-store"])
    assert code == 0
    return {f["facility_id"]: f for f in json.loads(out.getvalue())["facilities"]}


def test_the_network_has_a_clone_and_a_late_feed(full):
    detectors = {fid: result["integrity"]["detectors"] for fid, result in full.items()}
    assert "clone" in detectors["clone-w"]
    assert "clone" in detectors["clone-h"]
    assert "late_arrival" in detectors["late-w"]
    assert all(detectors[fid] == [] for fid in network.HONEST), detectors


filters = st.one_of(
    st.lists(st.sampled_from(IDS), min_size=1, max_size=4, unique=True).map(
        lambda ids: [arg for fid in ids for arg in ("--facility", fid)]),
    st.sampled_from(REGIONS).map(lambda region: ["--region", region]),
)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chosen=filters)
def test_a_filtered_run_gives_the_full_runs_verdicts(influxdb, seeded, full, capsys, chosen):
    shown = run(influxdb, seeded, capsys, *chosen)
    assert shown
    assert {fid: verdict(r) for fid, r in shown.items()} == {fid: verdict(full[fid]) for fid in shown}


def test_the_suggested_command_is_read_only_and_store_is_explicit(influxdb, seeded, capsys):
    database, _ = seeded
    evidence = f"{database}_evidence"

    def statuses() -> list[str]:
        if evidence not in json.dumps(influxdb.query("SHOW DATABASES")):
            return []  # a read-only run does not even create the evidence database
        return sorted(row["facility"] for row in stored(influxdb, database, "facility_status"))

    before = statuses()
    shown = run(influxdb, seeded, capsys, "--facility", "clone-w")
    assert "clone" in shown["clone-w"]["integrity"]["detectors"]
    assert statuses() == before  # nothing stored: not the status, not the rollup's database
    run(influxdb, seeded, capsys, "--facility", "clone-w", "--store")
    assert statuses() == sorted({*before, "clone-w"})
