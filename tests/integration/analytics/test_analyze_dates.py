"""Dates that make sense: `facmon analyze` refuses an as-of after today (facility's zone, facmon's pinned clock)
and a window before the first reading unless --allow-no-readings, and says plainly when a window holds no
readings (analytics.analysis.asof)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from facmon.cli.main import main
from tests.integration.analytics import network
from tests.integration.analytics.test_one_verdict import seeded

pytestmark = pytest.mark.servers
__all__ = ["seeded"]


@pytest.fixture
def run(influxdb, capsys):
    def call(database: str, registry: Path, as_of: str, *extra: str) -> tuple[int, str, str]:
        code = main(["analyze", "--influx-url", influxdb.url, "--influx-db", database, "--registry",
                     str(registry), "--as-of", as_of, "--window", "7d", "--format", "json", "--no-store", *extra])
        out = capsys.readouterr()
        return code, out.out, out.err
    return call


def test_an_as_of_after_today_in_the_facilitys_zone_is_refused(seeded, run):
    # The pinned clock (tests.conftest.TEST_NOW, 2026-12-01T16:30Z) is 2026-12-02 00:30 in Shanghai.
    code, out, err = run(*seeded, "2026-12-20")
    assert code == 2
    assert out == ""
    assert "--as-of 2026-12-20 is after today (2026-12-02 in Asia/Shanghai)" in err
    code, out, err = run(*seeded, "2026-12-02")
    assert code == 0, err
    assert "no readings at all in the window (2026-11-25 to 2026-12-01)" in err


def test_a_window_before_the_first_reading_is_refused_unless_asked_for(seeded, run):
    code, out, err = run(*seeded, "2025-10-01")
    assert code == 2
    assert out == ""
    assert "has no reading before the window's end (2025-09-24 to 2025-09-30)" in err
    assert "--allow-no-readings" in err
    code, out, err = run(*seeded, "2025-10-01", "--allow-no-readings")
    assert code == 0, err
    assert json.loads(out)["counts"]["NO_DATA"] == len(network.registry()["facilities"])
    assert "no readings at all in the window" in err


def test_an_empty_database_says_so(influxdb, seeded, run):
    empty = "t_" + uuid.uuid4().hex[:12]
    influxdb.query(f'CREATE DATABASE "{empty}"')
    code, _, err = run(empty, seeded[1], network.AS_OF.isoformat())
    assert code == 2
    assert f"database {empty!r} holds no readings at all" in err
