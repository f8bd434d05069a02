"""Reviews as a record, against the real InfluxDB: `facmon review list|show|undo`, an undo that is an event of its
own (nothing deleted), holds that a later review never lifts, and the report showing reviews and holds for every
flagged or suspect facility, with the suspect ones charted like the flagged ones."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from analytics.alerts import reviews
from analytics.analysis import store
from analytics.analysis.model import Detector, Finding, Status
from tests.conftest import TEST_NOW
from tests.integration.analytics.auditing import COMM, GYM, LIB, D, run_of
from tests.integration.analytics.test_review import TODAY, env, facmon, stored
from tests.unit.analytics.test_report import parse

__all__ = ["env"]  # fixtures used by name
pytestmark = pytest.mark.servers


def later(env: dict[str, str], minutes: int) -> dict[str, str]:
    """The environment with the pinned clock ``minutes`` after TEST_NOW: each command records at its own time."""
    return {**env, "FACMON_NOW": (TEST_NOW + timedelta(minutes=minutes)).isoformat()}


def listed(env: dict[str, str], *extra: str) -> list[dict]:
    done = facmon("review", "list", "--format", "json", *extra, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_list_show_and_undo_keep_the_whole_history(db, evidence, env):
    until = TODAY + timedelta(days=30)
    assert facmon("review", GYM, "--disposition", "seasonal", "--note", "summer", "--until", until.isoformat(),
                  "--reviewer", "zhang", env=env).returncode == 0
    assert facmon("review", GYM, "--disposition", "confirmed", "--note", "still empty in autumn", "--reviewer",
                  "li", env=later(env, 1)).returncode == 0
    first, second = listed(env)
    assert (first["disposition"], first["until"], first["hold_in_force"]) == ("seasonal", until.isoformat(), True)
    assert (second["disposition"], second["until"], second["hold_in_force"]) == ("confirmed", None, False)
    # a follow-up without --until leaves the earlier hold in force for the alerts too
    assert [r.until for r in reviews.read(evidence, [GYM])] == [until, None]

    shown = facmon("review", "show", GYM, env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"{first['id']}" in shown.stdout
    assert "[hold in force]" in shown.stdout

    done = facmon("review", "undo", first["id"], "--note", "recorded for the wrong facility", "--reviewer", "zhang",
                  env=later(env, 2))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"recorded the undo of review {first['id']} (seasonal of {GYM})")
    again_first, again_second = listed(env, "--facility", GYM)
    assert again_first["undone"]["note"] == "recorded for the wrong facility"
    assert not again_first["hold_in_force"]
    assert again_second["undone"] is None
    points = stored(db)
    assert len(points) == 3  # append-only: two reviews and the undo event
    (undo,) = [p for p in points if p["disposition"] == "undo"]
    assert (undo["region"], undo["type"]) == ("zhejiang/wenzhou/lucheng", "sports_hall")
    assert [r.disposition.value for r in reviews.read(evidence, [GYM])] == ["confirmed"]
    (one,) = json.loads(facmon("review", "show", first["id"][:7], "--format", "json", env=env).stdout)
    assert one["id"] == first["id"]

    twice = facmon("review", "undo", first["id"], "--note", "again", env=env)
    assert twice.returncode == 2
    assert "already undone" in twice.stderr
    unknown = facmon("review", "undo", "ffffffffff", "--note", "x", env=env)
    assert unknown.returncode == 2
    assert "no review with id" in unknown.stderr


def test_report_shows_every_hold_and_charts_suspect_facilities(db, evidence, env, tmp_path):
    suspect = {GYM: (Finding(Detector.CLONE, f"same series as {LIB} on 20 of 24 open days"),)}
    store.store_run(evidence, run_of(D, {LIB: Status.IDLE, GYM: Status.ACTIVE, COMM: Status.ACTIVE}, suspect))
    until = TODAY + timedelta(days=30)
    for minute, args in enumerate((
        (LIB, "--disposition", "seasonal", "--note", "closed for works", "--until", until.isoformat()),
        (LIB, "--disposition", "confirmed", "--note", "no bookings either"),
        (GYM, "--disposition", "sensor_fault", "--note", "door counter replaced"),
    )):
        assert facmon("review", *args, "--reviewer", "zhang", env=later(env, minute)).returncode == 0
    out = tmp_path / "report.html"
    done = facmon("report", "--as-of", D.isoformat(), "--output", str(out), "--print", "json", env=env)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert (said["path"], said["format"], said["as_of"]) == (str(out), "html", D.isoformat())
    assert said["bytes"] == out.stat().st_size
    page = parse(out.read_text(encoding="utf-8"))
    idle = page.articles[f"f-{LIB}"]
    assert f"seasonal until {until} (hold in force) — closed for works" in idle
    assert "confirmed — no bookings either" in idle  # the later review, shown beside the hold it did not lift
    assert f"Alerts held back until {until}" in idle
    flagged = page.articles[f"s-{GYM}"]
    assert "sensor_fault — door counter replaced" in flagged
    assert f"SELECT * FROM \"facility_status\" WHERE \"facility\" = '{GYM}'" in flagged
    assert len(page.images[f"s-{GYM}"]) == 1
